"""The pull-request gate: ``verify --since git:REV`` and ``--since FILE`` (DESIGN §5, §8).

Each test builds a real git repository in tmp_path: a generated ledger committed
on ``main`` under ``claims/``, and a branch that changes it. A rewritten history
here is always *self-consistent*: entries correctly signed with real keys and the
checkpoint re-signed over the new log, so plain ``verify`` accepts it and only the
comparison with the base branch's checkpoint can refuse it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cli.main import main
from ledger.codec import decode_entry, encode_entry
from ledger.entry import event_id, seal
from ledger.events import ClaimAssertedBody, LedgerCreatedBody, NoteAddedBody
from ledger.keys import SigningKey
from ledger.ledger import Draft, Ledger
from scripts.generate_ledger import INTRUDER, OWNER, STAFF, generate

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.org",
    "GIT_AUTHOR_DATE": "2024-05-01T12:00:00Z",
    "GIT_COMMITTER_DATE": "2024-05-01T12:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
REVIEWER = STAFF[3]  # rosa-reviewer: granted on line 5, never revoked
LATER = "2021-02-01T09:00:00Z"  # after every generated entry, long before the test runs
SIZE = 120


@pytest.fixture(autouse=True)
def hermetic_git(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose ``main`` holds a generated ledger of SIZE entries in claims/."""
    repo = tmp_path_factory.mktemp("base") / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    generate(SIZE, repo / "claims", seed=11)
    commit(repo, "ledger")
    assert git(repo, "branch", "--show-current").strip() == "main"
    return repo


@pytest.fixture
def repo(base_repo: Path, tmp_path: Path) -> Path:
    """A private copy of the base repository, on a new branch ``change``."""
    copy = tmp_path / "repo"
    shutil.copytree(base_repo, copy, symlinks=True)
    git(copy, "checkout", "-q", "-b", "change")
    return copy


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def verify_json(
    repo: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        ["verify", str(repo / "claims"), "--unsafe-allow-test-keys", "--format", "json", *extra]
    )
    return code, json.loads(capsys.readouterr().out)


def error_rules(doc: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in doc["findings"] if f["severity"] == "error"]


def lines_of(repo: Path) -> list[bytes]:
    return (repo / "claims" / "events.jsonl").read_bytes().split(b"\n")[:-1]


def rewrite(repo: Path, lines: list[bytes], key: SigningKey = OWNER.key) -> None:
    """Replace the log and sign a checkpoint that matches it, as a key holder could."""
    root = repo / "claims"
    (root / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    leaves = [bytes.fromhex(event_id(decode_entry(line))) for line in lines]
    origin = Ledger.open(root).config.origin
    note = sign_checkpoint(Checkpoint(origin, len(leaves), merkle.root(leaves)), key)
    (root / "checkpoint").write_text(note, encoding="utf-8")


def note(text: str, claim: str) -> Draft:
    salt = "AAAAAAAAAAAAAAAAAAAAAA=="
    return Draft("note.added", claim, NoteAddedBody(salt=salt, text=text, in_reply_to=None))


def some_claim(repo: Path) -> str:
    return some_claim_in(repo / "claims")


def some_claim_in(root: Path) -> str:
    lines = (root / "events.jsonl").read_bytes().split(b"\n")[:-1]
    return next(e.subject for e in map(decode_entry, lines) if e.kind == "claim.asserted")


def append_notes(repo: Path, count: int) -> None:
    ledger = Ledger.open(repo / "claims")
    claim = some_claim(repo)
    drafts = [note(f"A reviewer's later note number {i}, appended.", claim) for i in range(count)]
    ledger.append(drafts, REVIEWER.key, at=LATER)


def unreferenced_head(lines: list[bytes], kind: str = "note.added") -> int:
    """A mid-log entry of ``kind`` that is the head of its stream and referenced nowhere."""
    ids = [event_id(decode_entry(line)).encode() for line in lines]
    for index in range(len(lines) // 2, len(lines) - 1):
        if decode_entry(lines[index]).kind == kind and not any(
            ids[index] in line for line in lines[index + 1 :]
        ):
            return index
    raise AssertionError(f"no unreferenced {kind} in the second half of the log")


# --- what the gate accepts --------------------------------------------------------------


def test_branch_that_only_appends_passes_since_main(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append_notes(repo, 2)
    commit(repo)
    code, doc = verify_json(repo, capsys, "--since", "git:main")
    assert (code, doc["findings"]) == (0, [])
    assert (doc["since"]["size"], doc["entries"]) == (SIZE, SIZE + 2)


def test_since_an_old_checkpoint_file_accepts_later_appends(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old-checkpoint"
    shutil.copyfile(repo / "claims" / "checkpoint", old)
    append_notes(repo, 3)
    code, doc = verify_json(repo, capsys, "--since", str(old))
    assert (code, doc["findings"]) == (0, [])
    assert (doc["since"]["size"], doc["entries"]) == (SIZE, SIZE + 3)


# --- rewritten histories: valid on their own, refused against main ----------------------


def edit_old_entry(repo: Path) -> None:
    lines = lines_of(repo)
    index = unreferenced_head(lines)
    old = decode_entry(lines[index])
    assert isinstance(old.body, NoteAddedBody)
    body = NoteAddedBody(salt=old.body.salt, text="Quietly reworded.", in_reply_to=None)
    key = next(k for k in (p.key for p in STAFF) if k.public.fingerprint == old.author)
    lines[index] = encode_entry(
        seal(kind=old.kind, subject=old.subject, parent=old.parent, at=old.at, body=body, key=key)
    )
    rewrite(repo, lines)


def drop_old_entry(repo: Path) -> None:
    lines = lines_of(repo)
    del lines[unreferenced_head(lines)]
    rewrite(repo, lines)
    append_notes(repo, 2)  # longer than main again: only the prefix check can see it


def reorder_old_entries(repo: Path) -> None:
    lines = lines_of(repo)
    entries = [decode_entry(line) for line in lines]
    index = next(
        i
        for i in range(len(lines) // 2, len(lines) - 1)
        if entries[i].subject != entries[i + 1].subject
        and entries[i].subject.encode() not in lines[i + 1]
        and event_id(entries[i]).encode() not in lines[i + 1]
    )
    lines[index], lines[index + 1] = lines[index + 1], lines[index]
    rewrite(repo, lines)


def insert_old_entry(repo: Path) -> None:
    lines = lines_of(repo)
    index = len(lines) // 2
    at = decode_entry(lines[index - 1]).at
    body = ClaimAssertedBody(
        salt="AAAAAAAAAAAAAAAAAAAAAA==",
        text="A claim backdated into the middle of the log.",
        kind="factual",
        claimant="Nobody",
        appearance=None,
        topics=[],
    )
    claim = seal(
        kind="claim.asserted",
        subject="clm_backdatedcla",
        parent=None,
        at=at,
        body=body,
        key=REVIEWER.key,
    )
    lines.insert(index, encode_entry(claim))
    rewrite(repo, lines, key=REVIEWER.key)


def rewrite_genesis(repo: Path) -> None:
    """Same owner, same origin, another description: every later entry still chains."""
    lines = lines_of(repo)
    genesis = decode_entry(lines[0])
    assert isinstance(genesis.body, LedgerCreatedBody)
    body = LedgerCreatedBody(
        salt=genesis.body.salt,
        origin=genesis.body.origin,
        description="A different ledger, same owner",
        owner=genesis.body.owner,
        owner_name=genesis.body.owner_name,
        scale=genesis.body.scale,
    )
    lines[0] = encode_entry(
        seal(
            kind="ledger.created",
            subject="ledger",
            parent=None,
            at=genesis.at,
            body=body,
            key=OWNER.key,
        )
    )
    rewrite(repo, lines)


REWRITES = {
    "edit": edit_old_entry,
    "drop": drop_old_entry,
    "reorder": reorder_old_entries,
    "insert": insert_old_entry,
    "genesis": rewrite_genesis,
}


@pytest.mark.parametrize("change", REWRITES)
def test_branch_that_rewrites_history_verifies_alone_but_fails_since_main(
    change: str, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    REWRITES[change](repo)
    commit(repo)
    alone, _ = verify_json(repo, capsys)
    code, doc = verify_json(repo, capsys, "--since", "git:main")
    assert alone == 0
    assert code == 1
    assert error_rules(doc) == ["since"]
    assert "no longer match the checkpoint at main" in doc["findings"][0]["message"]


def test_branch_that_replaces_the_genesis_and_trust_root_fails_since_main(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attacker's own ledger, with ledger.toml pinning the attacker's key."""
    attacker = SigningKey.from_seed(bytes(range(32)), "attacker@example.org")
    forged = tmp_path / "forged"
    Ledger.init(forged, origin="example.org/generated-claims", key=attacker, owner_name="A")
    for name in ("events.jsonl", "checkpoint", "ledger.toml"):
        shutil.copyfile(forged / name, repo / "claims" / name)
    commit(repo)
    alone, _ = verify_json(repo, capsys)
    code, doc = verify_json(repo, capsys, "--since", "git:main")
    rules = error_rules(doc)
    assert alone == 0
    assert code == 1
    assert doc["trust_root"] == OWNER.key.public.fingerprint
    assert ("genesis", 1) in [(f["rule"], f["line"]) for f in doc["findings"]]
    assert "since" in rules


def test_branch_that_swaps_the_trust_root_in_ledger_toml_fails_since_main(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The log is untouched; only the pinned trust root of the policy file changes.

    Merged, it would make every later ``--since git:main`` check against the new root.
    """
    toml = repo / "claims" / "ledger.toml"
    owner = OWNER.key.public.fingerprint
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(owner, INTRUDER.key.public.fingerprint),
        encoding="utf-8",
    )
    commit(repo)
    code, doc = verify_json(repo, capsys, "--since", "git:main")
    assert code == 1
    assert set(error_rules(doc)) & {"trust-root", "since"}


# --- what the gate cannot check -----------------------------------------------------------


def test_missing_git_revision_exits_3_with_a_hint_to_fetch(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", str(repo / "claims"), "--since", "git:deadbeef"])
    err = capsys.readouterr().err
    assert code == 3
    assert "deadbeef" in err
    assert "git fetch" in err


def test_checkpoint_of_a_longer_old_log_fails_since_as_truncation(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old-checkpoint"
    shutil.copyfile(repo / "claims" / "checkpoint", old)
    rewrite(repo, lines_of(repo)[:-5])
    alone, _ = verify_json(repo, capsys)
    code, doc = verify_json(repo, capsys, "--since", str(old))
    assert alone == 0
    assert code == 1
    assert error_rules(doc) == ["since"]
    assert "entries were removed" in doc["findings"][0]["message"]


def test_old_checkpoint_signed_by_a_foreign_key_fails_since(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = lines_of(repo)
    leaves = [bytes.fromhex(event_id(decode_entry(line))) for line in lines]
    cp = Checkpoint("example.org/generated-claims", len(leaves), merkle.root(leaves))
    forged = tmp_path / "forged-checkpoint"
    forged.write_text(sign_checkpoint(cp, INTRUDER.key), encoding="utf-8")
    code, doc = verify_json(repo, capsys, "--since", str(forged))
    assert code == 1
    assert error_rules(doc) == ["since"]
    assert "not signed by a key of the ledger" in doc["findings"][0]["message"]
    assert doc["findings"][0]["file"] == os.path.relpath(forged, repo / "claims")


def test_a_since_file_that_is_no_checkpoint_is_the_file_the_finding_names(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ledger's own checkpoint is fine; the finding points at the file given."""
    given = tmp_path / "not-a-checkpoint"
    given.write_text("hello\n", encoding="utf-8")
    code, doc = verify_json(repo, capsys, "--since", str(given))
    assert code == 1
    assert error_rules(doc) == ["since"]
    # relative to the ledger, as every finding's file: joined to it, the file given
    file = doc["findings"][0]["file"]
    assert file == os.path.relpath(given, repo / "claims")
    assert (repo / "claims" / file).resolve() == given.resolve()
    assert doc["findings"][0]["message"].startswith(f"checkpoint {given} is not a checkpoint")


def test_a_since_file_outside_the_ledger_is_shown_as_the_user_named_it(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text and GitHub annotations join the ledger's path with the finding's file; for a
    file beside the ledger that read "repo/claims/../../not-a-checkpoint"."""
    (tmp_path / "not-a-checkpoint").write_text("hello\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(repo / "claims")  # the ledger through a symlink too
    github = "::error file=not-a-checkpoint,title=factledger since::"
    for ledger_path in ("repo/claims", "link"):
        for fmt, shown in (("text", "not-a-checkpoint: error [since]"), ("github", github)):
            argv = ["verify", ledger_path, "--since", "not-a-checkpoint", "--format", fmt]
            code = main([*argv, "--unsafe-allow-test-keys"])
            out = capsys.readouterr().out
            assert code == 1
            (line,) = [line for line in out.splitlines() if "[since]" in line or "::" in line]
            assert line.startswith(shown), (ledger_path, line)


# --- a ledger new at the base: the pull request or first commit that adds it ----------


def test_a_ledger_the_base_does_not_have_yet_is_verified_in_full_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README").write_text("a newsroom's repository\n")
    commit(repo, "before the ledger")
    git(repo, "checkout", "-q", "-b", "add-ledger")
    generate(SIZE, repo / "claims", seed=12)
    commit(repo, "the ledger")
    code, doc = verify_json(repo, capsys, "--since", "git:main")
    assert code == 0, doc
    assert doc["since"] is None
    assert doc["entries"] == SIZE
    main(["verify", str(repo / "claims"), "--unsafe-allow-test-keys", "--since", "git:main"])
    assert "the ledger is new at main: nothing to append to" in capsys.readouterr().err
    lines = lines_of(repo)
    (repo / "claims" / "events.jsonl").write_bytes(b"".join(x + b"\n" for x in lines[:-1]))
    code, doc = verify_json(repo, capsys, "--since", "git:main")
    assert code == 1  # new, but still checked: here, a log shorter than its checkpoint
    assert "checkpoint" in error_rules(doc)


def test_the_first_commit_of_a_repository_is_verified_in_full_as_a_pre_commit_hook_sees_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    generate(SIZE, repo / "claims", seed=13)
    git(repo, "add", "-A")  # staged, not committed: there is no HEAD yet
    code, doc = verify_json(repo, capsys, "--since", "git:HEAD")
    assert code == 0, doc
    assert doc["entries"] == SIZE


def test_a_base_with_the_config_but_no_checkpoint_is_still_an_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "claims" / "checkpoint").unlink()
    commit(repo, "lost the checkpoint")
    git(repo, "checkout", "-q", "-b", "next")
    code = main(["verify", str(repo / "claims"), "--unsafe-allow-test-keys", "--since",
                 "git:change"])  # fmt: skip
    assert code == 3
    assert "though its ledger.toml is there" in capsys.readouterr().err


@pytest.mark.parametrize("link", [True, False], ids=["linked", "moved"])
def test_a_ledger_moved_or_reached_through_a_new_link_is_still_checked_against_main(
    link: bool, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a new ledger: the gate finds it where main had it, or by its origin.

    A change that moves ``claims/`` to ``data/`` and leaves a link ``claims`` -> ``data``
    behind must not pass as a ledger that main does not have (verified alone, which
    a key holder's rewritten history passes). A plain move is followed by the origin.
    """
    git(repo, "mv", "claims", "data")
    if link:
        (repo / "claims").symlink_to("data")
    named = repo / ("claims" if link else "data")
    lines = (named / "events.jsonl").read_bytes().split(b"\n")[:-1]
    del lines[unreferenced_head(lines)]
    (named / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    leaves = [bytes.fromhex(event_id(decode_entry(line))) for line in lines]
    origin = Ledger.open(named).config.origin
    note = sign_checkpoint(Checkpoint(origin, len(leaves), merkle.root(leaves)), REVIEWER.key)
    (named / "checkpoint").write_text(note, encoding="utf-8")
    commit(repo)
    args = ["verify", str(named), "--unsafe-allow-test-keys", "--since", "git:main"]
    assert main([*args, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert error_rules(doc) == ["since"], doc["findings"]
    assert doc["since"]["size"] == SIZE
    main(args)
    err = capsys.readouterr().err
    assert "is new at main" not in err
    assert ("the ledger was in claims/ at main" in err) is not link


def test_a_moved_ledger_that_only_appends_passes_since_main(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "mv", "claims", "data")
    ledger = Ledger.open(repo / "data")
    claim = some_claim_in(repo / "data")
    ledger.append([note("A note after the move.", claim)], REVIEWER.key, at=LATER)
    commit(repo)
    code = main(["verify", str(repo / "data"), "--unsafe-allow-test-keys", "--since", "git:main"])
    assert code == 0
    assert "the ledger was in claims/ at main" in capsys.readouterr().err


def test_two_ledgers_of_one_origin_at_the_base_are_refused_not_guessed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(repo / "claims", repo / "backup")
    commit(repo, "a backup copy")
    git(repo, "checkout", "-q", "-b", "moved")
    git(repo, "mv", "claims", "data")
    commit(repo)
    code = main(["verify", str(repo / "data"), "--unsafe-allow-test-keys", "--since",
                 "git:change"])  # fmt: skip
    assert code == 3
    assert "2 ledgers have the origin" in capsys.readouterr().err


def test_the_fetch_hint_for_a_shallow_clone_is_a_command_that_works(tmp_path: Path) -> None:
    from ledger.gitrev import _fetch_hint

    assert _fetch_hint("origin/main") == (
        "fetch it first, e.g. 'git fetch --no-tags --depth=1 origin main'"
    )
    assert "--deepen" in _fetch_hint("HEAD~1")
    assert _fetch_hint("main").endswith("origin main'")
