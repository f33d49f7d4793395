"""Read a ledger's files as they were at a git revision (for ``verify --since git:REV``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ledger.errors import StorageError, UsageError


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


def show_file(ledger_dir: Path, rev: str, name: str) -> bytes | None:
    """The bytes of ``<ledger_dir>/<name>`` at ``rev``; None if the file did not exist there.

    Raises :class:`StorageError` (exit 3) when ``rev`` is not in the clone, as in a
    shallow CI checkout, with the command that fetches it.
    """
    if not rev or rev.startswith("-"):
        raise UsageError(f"{rev!r} is not a git revision")
    top = _git(ledger_dir, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise StorageError(
            f"{ledger_dir} is not inside a git repository",
            hint="--since git:REV needs the ledger's git history; or pass a checkpoint file",
        )
    root = Path(top.stdout.decode().strip())
    if _git(root, "cat-file", "-e", f"{rev}^{{commit}}").returncode != 0:
        if rev == "HEAD" and not _git(root, "rev-list", "-n", "1", "--all").stdout.strip():
            return None  # no commit yet (the first one, as a pre-commit hook sees it)
        raise StorageError(
            f"git revision {rev!r} is not in this clone (a shallow checkout?)",
            hint=_fetch_hint(rev),
        )
    relative = ledger_dir.resolve().relative_to(root.resolve()).as_posix()
    path = f"{relative}/{name}" if relative != "." else name
    shown = _git(root, "show", f"{rev}:{path}")
    if shown.returncode != 0:
        return None
    return shown.stdout
