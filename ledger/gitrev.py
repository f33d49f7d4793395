"""Read a ledger's files as they were at a git revision (for ``verify --since git:REV``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ledger.config import CONFIG_NAME, LedgerConfig
from ledger.errors import LedgerError, StorageError, UsageError
from ledger.ledger import CHECKPOINT_NAME


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise StorageError(
            "git is not installed", hint="install git or pass a checkpoint file"
        ) from None


def _fetch_hint(rev: str) -> str:
    """How to bring ``rev`` into a shallow clone: a branch by name, else more history."""
    if "~" in rev or "^" in rev:
        return "fetch more history first, e.g. 'git fetch --deepen=50' or 'git fetch --unshallow'"
    branch = rev.removeprefix("origin/")
    return f"fetch it first, e.g. 'git fetch --no-tags --depth=1 origin {branch}'"


class Revision:
    """A git revision of the repository that holds a ledger directory.

    Raises :class:`StorageError` (exit 3) when ``rev`` is not in the clone, as in a
    shallow CI checkout, with the command that fetches it.
    """

    def __init__(self, ledger_dir: Path, rev: str) -> None:
        if not rev or rev.startswith("-"):
            raise UsageError(f"{rev!r} is not a git revision")
        top = _git(ledger_dir, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise StorageError(
                f"{ledger_dir} is not inside a git repository",
                hint="--since git:REV needs the ledger's git history; or pass a checkpoint file",
            )
        self.root = Path(top.stdout.decode().strip())
        self.rev = rev
        self.born = True
        """False when the repository has no commit yet (``HEAD`` in a pre-commit hook)."""
        if _git(self.root, "cat-file", "-e", f"{rev}^{{commit}}").returncode != 0:
            if rev == "HEAD" and not _git(self.root, "rev-list", "-n", "1", "--all").stdout.strip():
                self.born = False
                return
            shallow = _git(self.root, "rev-parse", "--is-shallow-repository")
            if shallow.stdout.strip() == b"true":
                raise StorageError(
                    f"git revision {rev!r} is not in this clone, which is shallow",
                    hint=_fetch_hint(rev),
                )
            if "~" in rev or "^" in rev:  # counted back from a commit this clone has
                raise StorageError(
                    f"git revision {rev!r} is not in this repository's history",
                    hint="check the revision: 'git log --oneline' lists the commits",
                )
            branch = rev.removeprefix("origin/")
            raise StorageError(
                f"git revision {rev!r} is not in this repository",
                hint=f"check the revision, or fetch it: 'git fetch --no-tags origin {branch}'",
            )

    def show(self, path: str) -> bytes | None:
        """The bytes of ``path`` (from the repository's top) at this revision, or None."""
        if not self.born:
            return None
        shown = _git(self.root, "show", f"{self.rev}:{path}")
        return shown.stdout if shown.returncode == 0 else None

    def paths_named(self, name: str) -> list[str]:
        """Every file called ``name`` in this revision's tree, from the repository's top."""
        if not self.born:
            return []
        listed = _git(self.root, "ls-tree", "-r", "-z", "--name-only", self.rev)
        paths = listed.stdout.decode("utf-8", "surrogateescape").split("\0")
        return [p for p in paths if p == name or p.endswith(f"/{name}")]

    def locate(self, ledger_dir: Path, origin: str) -> str | None:
        """The directory (from the top) this ledger was in at this revision; None when
        it was in none, as in the change that adds it.

        Where ``ledger_dir`` is now, as named or with its links resolved, if a ledger was
        there; else wherever a ``ledger.toml`` had the same origin — a ledger moved, or
        reached through a link that the change made, is the ledger it was, not a new one.
        """
        for place in self.places(ledger_dir):
            if any(self.show(join(place, n)) is not None for n in (CONFIG_NAME, CHECKPOINT_NAME)):
                return place
        same = []
        for path in self.paths_named(CONFIG_NAME):
            try:
                other = LedgerConfig.parse((self.show(path) or b"").decode("utf-8"), path=path)
            except (LedgerError, UnicodeDecodeError):
                continue
            if other.origin == origin:
                same.append(path.rpartition("/")[0] or ".")
        if len(same) > 1:
            raise StorageError(
                f"at {self.rev}, {len(same)} ledgers have the origin {origin} "
                f"({', '.join(same)}), and none is where this one is now",
                hint="pass the base's checkpoint file with --since FILE",
            )
        return same[0] if same else None

    def places(self, ledger_dir: Path) -> list[str]:
        """Where ``ledger_dir`` is in the repository: the path as named, then with its
        symlinks resolved (the same path, but for a link inside the repository)."""
        top = self.root.resolve()
        named = Path(os.path.abspath(ledger_dir))
        found: list[str] = []
        for parent in (named, *named.parents):
            if parent.resolve() == top:
                found.append(named.relative_to(parent).as_posix())
                break
        resolved = ledger_dir.resolve()
        if resolved.is_relative_to(top):
            found.append(resolved.relative_to(top).as_posix())
        return list(dict.fromkeys(found))


def join(directory: str, name: str) -> str:
    """``directory/name`` as a path in a git tree (``directory`` "." is the top)."""
    return name if directory in ("", ".") else f"{directory}/{name}"
