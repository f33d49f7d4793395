"""A write on a log that does not extend its signed checkpoint, or that cannot re-sign it.

Every write re-signs the checkpoint over the whole log. Over a log that lost its last
entries, or had one replaced, that signature made the damage verify and erased the
evidence of it (found by a sweep of the error paths); a write now stops first. And a
write whose checkpoint cannot be replaced (a read-only directory) appended its entry
and then failed, so that each retry appended it again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ledger.cli.main import main
from ledger.events import KeyGrantedBody
from ledger.keys import SigningKey, save_signing_key
from ledger.ledger import Draft, Ledger, new_salt
from tests.reliability.conftest import Book, error_lines
from tests.reliability.test_locking import note_args


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(book: Book) -> tuple[bytes, bytes]:
    return book.events.read_bytes(), book.checkpoint.read_bytes()


def copy_of(book: Book, root: Path) -> Book:
    """Another clone of the ledger, written to by the same key."""
    shutil.copytree(book.root, root)
    return Book(root, book.key_path, book.key, book.claim)


def grow(book: Book, n: int) -> None:
    for i in range(n):
        book.add_claim(f"Claim number {i}.")


def crash_after_fsync(book: Book, tmp_path: Path) -> None:
    """Append one entry, then leave what a crash after the log's fsync leaves: the
    checkpoint and the state cache both at the size before, the log one entry on."""
    behind = book.checkpoint.read_bytes()
    shutil.copytree(book.root / ".cache", tmp_path / "cache-behind")
    grow(book, 1)
    book.checkpoint.write_bytes(behind)
    shutil.rmtree(book.root / ".cache")
    shutil.copytree(tmp_path / "cache-behind", book.root / ".cache")


@pytest.fixture(params=["cache", "no-cache"])
def cached(request: pytest.FixtureRequest) -> bool:
    """Whether the state cache is there when the damaged log is written to."""
    return bool(request.param == "cache")


def drop_cache(book: Book, cached: bool) -> None:
    if not cached:
        shutil.rmtree(book.root / ".cache", ignore_errors=True)


def test_a_write_to_a_log_that_lost_its_last_entries_is_refused_and_the_evidence_kept(
    book: Book, cached: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    grow(book, 3)
    lines = book.lines()
    book.events.write_bytes(b"".join(line + b"\n" for line in lines[:-2]))
    drop_cache(book, cached)
    before = snapshot(book)
    code, out, err = run(note_args(book), capsys)
    assert code == 1
    assert out == ""
    (line,) = error_lines(err)
    assert f"the log has {len(lines) - 2} entries but its signed checkpoint covers " in line
    assert f"{len(lines)}: entries were removed" in line
    assert "nothing was written" in line
    assert snapshot(book) == before
    assert "checkpoint" in {f.rule for f in book.verify().errors}  # still evident


def test_a_write_to_a_log_whose_last_entry_was_replaced_is_refused(
    book: Book, tmp_path: Path, cached: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    other = copy_of(book, tmp_path / "other")  # a valid entry for our log, elsewhere
    grow(book, 1)
    grow(other, 1)
    assert book.lines()[-1] != other.lines()[-1]
    book.events.write_bytes(other.events.read_bytes())  # same size, another last entry
    drop_cache(book, cached)
    before = snapshot(book)
    code, _, err = run(note_args(book), capsys)
    assert code == 1
    (line,) = error_lines(err)
    assert "[checkpoint]" in line
    assert "an entry was changed, reordered or replaced" in line
    assert snapshot(book) == before


def test_a_checkpoint_a_crash_left_behind_is_still_re_signed_by_the_next_write(
    book: Book, tmp_path: Path, cached: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    crash_after_fsync(book, tmp_path)
    drop_cache(book, cached)
    code, _, err = run(note_args(book), capsys)
    assert code == 0, err
    assert book.verify().ok


def test_with_the_cache_where_the_checkpoint_ends_the_prefix_is_not_hashed_again(
    book: Book, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crash_after_fsync(book, tmp_path)
    hashed: list[int] = []

    def root_at(self: Ledger, size: int) -> bytes:
        hashed.append(size)
        return b""

    monkeypatch.setattr(Ledger, "_root_at", root_at)
    code, _, err = run(note_args(book), capsys)
    assert code == 0, err
    assert hashed == []  # the root at the checkpoint's size came from the cache
    assert book.verify().ok


def test_a_log_cut_back_past_the_grant_of_the_checkpoints_signer_is_still_refused(
    book: Book, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checkpoint is signed by whoever appended last: here an editor, whose grant
    the cut removes, so the checkpoint no longer verifies against the log's keys."""
    editor = SigningKey.generate(comment="ed@example.org")
    editor_path = tmp_path / "keys" / "editor.key"
    save_signing_key(editor, editor_path, None)
    keep = len(book.lines())
    draft = Draft(
        "key.granted",
        editor.public.fingerprint,
        KeyGrantedBody(
            salt=new_salt(os.urandom), key=editor.public.openssh_line(), name="Ed", role="editor"
        ),
    )
    book.ledger().append([draft], book.key)
    assert run(note_args(book, editor_path), capsys)[0] == 0  # the editor signs last
    book.events.write_bytes(b"".join(line + b"\n" for line in book.lines()[:keep]))
    before = snapshot(book)
    code, _, err = run(note_args(book), capsys)
    assert code == 1
    assert "entries were removed" in err
    assert snapshot(book) == before


def test_an_old_checkpoint_of_another_history_is_refused(
    book: Book, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = copy_of(book, tmp_path / "other")
    grow(other, 1)
    grow(book, 2)
    book.checkpoint.write_bytes(other.checkpoint.read_bytes())  # behind, and not our prefix
    before = snapshot(book)
    code, _, err = run(note_args(book), capsys)
    assert code == 1
    assert "are not the ones its signed checkpoint covers" in err
    assert snapshot(book) == before


# --- a checkpoint that cannot be replaced --------------------------------------------


def test_a_directory_where_the_checkpoint_cannot_be_replaced_refuses_before_appending(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only directory holding a writable log: the log's append would succeed and
    the checkpoint's temp file fail. (As root, permission bits do not stop writes, so the
    directory's refusal is made by ``os.open``.)"""
    real = os.open
    refused: list[str] = []

    def guarded(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        if Path(path).name.startswith(".checkpoint.") and flags & os.O_CREAT:
            refused.append(str(path))
            raise PermissionError(13, os.strerror(13), str(path))
        return real(path, flags, *args, **kwargs)

    before = snapshot(book)
    monkeypatch.setattr(os, "open", guarded)
    code, out, err = run(note_args(book), capsys)
    assert refused
    assert code == 3
    assert out == ""
    (line,) = error_lines(err)
    assert "Permission denied" in line
    assert "read-only" in line
    assert snapshot(book) == before  # nothing appended, so a retry appends it once


def test_a_directory_in_the_checkpoints_place_refuses_before_appending(
    book: Book, capsys: pytest.CaptureFixture[str]
) -> None:
    """No file replaces a directory: found out before the entry is appended, which would
    otherwise be in the log with no checkpoint over it."""
    checkpoint = book.root / "checkpoint"
    checkpoint.unlink()
    checkpoint.mkdir()
    before = book.events.read_bytes()
    code, out, err = run(note_args(book), capsys)
    assert code == 3
    assert out == ""
    (line,) = error_lines(err)
    assert "Is a directory" in line
    assert "checkpoint" in line
    assert book.events.read_bytes() == before  # nothing appended


def test_a_checkpoint_that_fails_after_the_append_says_the_entry_is_in_and_repair_mends_it(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = os.replace

    def full(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "checkpoint":
            raise OSError(28, os.strerror(28), str(dst))
        real(src, dst)

    size = len(book.lines())
    monkeypatch.setattr(os, "replace", full)
    code, _, err = run(note_args(book), capsys)
    monkeypatch.setattr(os, "replace", real)
    assert code == 3
    (line,) = error_lines(err)
    assert f"the log has the new entries (it now holds {size + 1})" in line
    assert "No space left on device" in line
    assert "do not append them again" in line
    assert len(book.lines()) == size + 1
    code, _, err = run(["repair", "--ledger", str(book.root), "--key", str(book.key_path)], capsys)
    assert code == 0, err
    assert "re-signed the checkpoint" in err
    assert book.verify().ok


def test_repair_re_signs_a_checkpoint_left_behind_that_a_since_revoked_key_signed(
    book: Book, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    editor = SigningKey.generate(comment="ed@example.org")
    editor_path = tmp_path / "keys" / "editor.key"
    save_signing_key(editor, editor_path, None)
    grant = KeyGrantedBody(
        salt=new_salt(os.urandom), key=editor.public.openssh_line(), name="Ed", role="editor"
    )
    book.ledger().append([Draft("key.granted", editor.public.fingerprint, grant)], book.key)
    assert run(note_args(book, editor_path), capsys)[0] == 0  # Ed signs the checkpoint
    behind = book.checkpoint.read_bytes()
    revoke = ["key", "revoke", "Ed", "--reason", "retired", "--key", str(book.key_path),
              "--ledger", str(book.root)]  # fmt: skip
    assert run(revoke, capsys)[0] == 0
    book.checkpoint.write_bytes(behind)  # a crash after the revocation's fsync
    code, _, err = run(["repair", "--ledger", str(book.root), "--key", str(book.key_path)], capsys)
    assert code == 0, err
    assert "re-signed the checkpoint" in err
    assert book.verify().ok


# --- a file that is not a log of lines -------------------------------------------------


def test_a_line_that_never_ends_is_one_error_not_an_endless_read(
    book: Book, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A binary in the log's place, or ``merge /dev/zero``: each chunk was added to the
    line so far and copied again, without end. (The limit is lowered to keep the test
    small; it is 64 MiB, far over the 1 MiB an entry may take.)"""
    from ledger import log

    monkeypatch.setattr(log, "RUNAWAY_LINE", 3 << 20)
    other = tmp_path / "other.jsonl"
    other.write_bytes(book.events.read_bytes()[:200] + b"x" * (4 << 20))
    before = snapshot(book)
    code, out, err = run(["merge", "--ledger", str(book.root), str(other)], capsys)
    assert code == 1
    assert out == ""
    (line,) = error_lines(err)
    assert "line 1 runs on for over 3 MiB without a newline" in line
    assert snapshot(book) == before
    with book.events.open("ab") as events:
        events.write(b"\x00" * (4 << 20))
    lines = len(book.lines())
    code, out, err = run(["verify", str(book.root), "--format", "json"], capsys)
    assert code == 1
    assert f"line {lines + 1} runs on for over 3 MiB" in error_lines(err)[0]


def test_a_line_over_the_entry_limit_but_ended_is_a_finding_and_the_rest_is_read(
    book: Book, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger import log

    monkeypatch.setattr(log, "RUNAWAY_LINE", 3 << 20)
    lines = book.lines()
    with book.events.open("ab") as events:
        events.write(b"x" * (2 << 20) + b"\n" + lines[-1] + b"\n")  # a long line, then more
    code, out, _ = run(["verify", str(book.root), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 1
    assert report["entries"] == len(lines) + 2
    assert [f["rule"] for f in report["findings"] if f["line"] == len(lines) + 1] == [
        "line-too-long"
    ]
