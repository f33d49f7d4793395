"""A final line without its newline is a torn write; repair moves only that tail aside (DESIGN §6).

The log is cut at every byte offset. Whatever the cut, loading says so (or sees a
valid shorter log when the cut falls on a line boundary), repair never drops or
alters a complete entry, keeps what it removes in a backup file beside the log,
restores a complete entry that lost only its newline, and leaves a log that loads.
"""

from __future__ import annotations

import base64
import functools
import itertools
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger import log, rules
from ledger.errors import DecodeError, TornWrite
from ledger.events import ClaimAssertedBody, ClaimCorrectedBody, SourceRegisteredBody
from ledger.keys import SigningKey
from ledger.ledger import Draft, Ledger

OWNER = SigningKey.from_seed(bytes(range(32)), "owner@example.org")
CLAIM = "clm_aaaaaaaaaaaa"
SOURCE = "src_aaaaaaaaaaaa"

_salts = itertools.count()


def salt() -> str:
    return base64.b64encode(next(_salts).to_bytes(16, "big")).decode()


def fixed_now() -> datetime:
    return datetime(2024, 6, 1, tzinfo=UTC)


def deterministic_rng(n: int) -> bytes:
    return bytes(n)


def source() -> Draft:
    body = SourceRegisteredBody(
        salt=salt(),
        title="Gauge records",
        kind="dataset",
        publisher=None,
        url=None,
        published=None,
        reliability="A",
        archive_url=None,
        content_sha256=None,
    )
    return Draft("source.registered", SOURCE, body)


def claim() -> Draft:
    body = ClaimAssertedBody(
        salt=salt(),
        text="The river rose two metres — a record.",
        kind="factual",
        claimant="the mayor",
        appearance=None,
        topics=["floods"],
    )
    return Draft("claim.asserted", CLAIM, body)


def correction() -> Draft:
    body = ClaimCorrectedBody(
        salt=salt(), text="The river rose 2.1 m.", correction="typo", reason="transcript"
    )
    return Draft("claim.corrected", CLAIM, body)


def make_ledger(root: Path) -> Ledger:
    """Four entries, all by the owner (one key to fold keeps 2,000 loads fast)."""
    ledger = Ledger.init(
        root,
        origin="example.org/claims",
        key=OWNER,
        owner_name="Olga",
        at="2024-01-01T00:00:00Z",
        now=fixed_now,
        rng=deterministic_rng,
    )
    ledger.append([source(), claim()], OWNER, at="2024-01-02T00:00:00Z", now=fixed_now)
    ledger.append([correction()], OWNER, at="2024-01-03T00:00:00Z", now=fixed_now)
    return ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return make_ledger(tmp_path / "claims")


def backups(ledger: Ledger) -> list[Path]:
    """Files beside the log other than the ones a ledger directory always holds."""
    usual = {
        "events.jsonl",
        "checkpoint",
        "ledger.toml",
        ".gitignore",
        ".gitattributes",
        ".factledger.lock",
        ".cache",
    }
    return sorted(p for p in ledger.root.iterdir() if p.name not in usual)


def test_the_fixture_log_is_whole_and_loads(ledger: Ledger) -> None:
    data = ledger.events_path.read_bytes()
    assert data.count(b"\n") == 4
    assert data.endswith(b"\n")
    assert ledger.load().size == 4
    assert ledger.repair() is None
    assert ledger.events_path.read_bytes() == data


@pytest.fixture
def fast_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed for ~2,000 load/repair rounds, without changing a byte on disk.

    ``fsync`` guards against power loss, which this test does not simulate, and the
    strict admission of the owner key (pure-Python curve arithmetic) gives the same
    answer for the same key every time, so it is computed once.
    """
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    monkeypatch.setattr(rules, "parse_public_key", functools.cache(rules.parse_public_key))


@pytest.mark.usefixtures("fast_io")
def test_every_truncation_is_reported_and_repaired_without_losing_a_complete_entry(
    ledger: Ledger,
) -> None:
    original = ledger.events_path.read_bytes()
    boundaries = {i + 1 for i, byte in enumerate(original) if byte == ord("\n")}
    for cut in range(1, len(original)):
        for leftover in backups(ledger):
            leftover.unlink()
        prefix = original[:cut]
        ledger.events_path.write_bytes(prefix)
        whole = prefix[: prefix.rfind(b"\n") + 1]  # every complete line before the cut
        complete = whole.count(b"\n")

        if cut in boundaries:
            assert ledger.load().size == complete, cut
            assert ledger.repair() is None, cut
            assert ledger.events_path.read_bytes() == prefix, cut
            assert backups(ledger) == [], cut
            continue

        with pytest.raises(TornWrite) as caught:
            ledger.load()
        assert caught.value.line == complete + 1, cut
        assert caught.value.hint is not None
        lost_only_its_newline = original[cut] == ord("\n")
        assert caught.value.whole_entry == lost_only_its_newline, cut
        if lost_only_its_newline:  # not called a torn write: repair keeps it whole
            assert "a whole entry" in caught.value.message, cut
            assert caught.value.hint == "run 'factledger repair' to add the newline back", cut
        else:
            assert "partial line" in caught.value.message, cut
            assert caught.value.hint == "run 'factledger repair' to move the partial tail aside"

        backup = ledger.repair()
        after = ledger.events_path.read_bytes()
        if original[cut] == ord("\n"):
            # a complete entry that lost only its newline is kept, newline restored
            assert backup is None, cut
            assert after == prefix + b"\n", cut
            assert backups(ledger) == [], cut
            assert ledger.load().size == complete + 1, cut
        else:
            assert backup is not None, cut
            assert backup.parent == ledger.events_path.parent, cut
            assert backup.read_bytes() == prefix[len(whole) :], cut
            assert backups(ledger) == [backup], cut
            assert after == whole, cut
            if complete:
                assert ledger.load().size == complete, cut
            else:
                with pytest.raises(DecodeError):  # an empty log has no genesis
                    ledger.load()


def test_a_cut_at_offset_zero_leaves_an_empty_log_that_repair_leaves_alone(
    ledger: Ledger,
) -> None:
    ledger.events_path.write_bytes(b"")
    assert ledger.repair() is None
    assert ledger.events_path.read_bytes() == b""
    assert backups(ledger) == []


def test_repairing_twice_is_a_no_op_the_second_time(ledger: Ledger) -> None:
    original = ledger.events_path.read_bytes()
    ledger.events_path.write_bytes(original + b'{"at":"2024')
    first = ledger.repair()
    assert first is not None
    assert ledger.repair() is None
    assert ledger.events_path.read_bytes() == original
    assert backups(ledger) == [first]


def test_repair_never_overwrites_an_earlier_backup(ledger: Ledger) -> None:
    """Two torn writes at the same offset, each repaired: both tails must survive."""
    original = ledger.events_path.read_bytes()
    ledger.events_path.write_bytes(original + b'{"at":"first torn tail')
    assert ledger.repair() is not None
    ledger.events_path.write_bytes(original + b'{"at":"second torn tail')
    assert ledger.repair() is not None
    kept = {p.read_bytes() for p in backups(ledger)}
    assert kept == {b'{"at":"first torn tail', b'{"at":"second torn tail'}


def test_append_onto_a_torn_tail_is_refused_with_a_hint_to_repair(ledger: Ledger) -> None:
    torn = ledger.events_path.read_bytes() + b'{"at":"2024-01-04T'
    ledger.events_path.write_bytes(torn)
    checkpoint = ledger.checkpoint_path.read_bytes()
    with pytest.raises(TornWrite) as caught:
        ledger.append([correction()], OWNER, at="2024-01-04T00:00:00Z", now=fixed_now)
    assert caught.value.hint is not None
    assert "factledger repair" in caught.value.hint
    assert ledger.events_path.read_bytes() == torn
    assert ledger.checkpoint_path.read_bytes() == checkpoint


def test_append_after_repair_continues_the_log(ledger: Ledger) -> None:
    original = ledger.events_path.read_bytes()
    ledger.events_path.write_bytes(original + b'{"at":"2024-01-04T')
    ledger.repair()
    (done,) = ledger.append([correction()], OWNER, at="2024-01-04T00:00:00Z", now=fixed_now)
    assert done.seq == 4
    assert ledger.events_path.read_bytes().startswith(original)
    assert ledger.load().size == 5


def test_repair_leaves_a_corrupt_complete_line_in_the_middle_alone(ledger: Ledger) -> None:
    lines = ledger.events_path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"v":1}', b'"v": 1}')
    corrupt = b"\n".join(lines)
    ledger.events_path.write_bytes(corrupt)
    assert ledger.repair() is None
    assert ledger.events_path.read_bytes() == corrupt
    assert backups(ledger) == []
    with pytest.raises(DecodeError) as caught:
        ledger.load()
    assert caught.value.line == 3


@pytest.mark.parametrize("content", [b"", b'{"at":"2024'], ids=["empty", "only-a-torn-tail"])
def test_verify_finds_a_log_without_an_entry_is_no_ledger(ledger: Ledger, content: bytes) -> None:
    """An emptied log must not pass on the strength of the checks no line was there to fail."""
    from ledger.verify import verify

    ledger.events_path.write_bytes(content)
    report = verify(ledger.root, config=ledger.config)
    genesis = [f for f in report.errors if f.rule == "genesis"]
    assert len(genesis) == 1
    assert genesis[0].file == "events.jsonl"
    assert "holds no entry" in genesis[0].message
    assert report.entries == 0


@pytest.mark.parametrize(
    ("content", "torn"),
    [(b"", 0), (b"a\n", 0), (b"a\nbc", 2), (b"abc", 3), (b"a\n" + b"x" * 10, 10), (b"\n", 0)],
)
def test_partial_tail_counts_the_bytes_after_the_last_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, torn: int
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(content)
    monkeypatch.setattr(log, "READ_CHUNK", 3)  # a partial line longer than a block
    assert log.partial_tail(path) == torn


def test_verify_calls_a_last_entry_without_its_newline_that_and_not_a_truncation(
    ledger: Ledger,
) -> None:
    """The checkpoint counts the entry whose newline is missing; the log's whole lines
    do not. verify said the log was truncated and to restore entries from git, though
    nothing was lost and repair only adds the newline."""
    from ledger.verify import verify

    data = ledger.events_path.read_bytes()
    ledger.events_path.write_bytes(data[:-1])
    report = verify(ledger.root, config=ledger.config, workers=1)
    assert [(f.rule, f.line) for f in report.findings] == [("torn-tail", 4)]
    assert "lacks its newline" in report.findings[0].message
    assert ledger.repair() is None
    assert verify(ledger.root, config=ledger.config, workers=1).ok
    # A cut inside the entry is still both: a torn write, and a log shorter than its checkpoint.
    ledger.events_path.write_bytes(data[:-2])
    cut = verify(ledger.root, config=ledger.config, workers=1)
    assert [f.rule for f in cut.findings] == ["torn-tail", "checkpoint"]
    # A missing newline hides no tampering: the checkpoint's root is checked with the last
    # line as its leaf (found by review: lines swapped, or the last one altered, then its
    # newline dropped, were reported as nothing but the missing newline).
    lines = data.splitlines(keepends=True)
    swapped = lines[0] + lines[2] + lines[1] + lines[3]
    altered = data.replace(b'"reason":"transcript"', b'"reason":"transcrip7"')
    assert altered != data
    for tampered in (swapped, altered):
        ledger.events_path.write_bytes(tampered[:-1])
        report = verify(ledger.root, config=ledger.config, workers=1)
        said = [(f.rule, f.message) for f in report.findings]
        differs = (
            "the log's Merkle root, with its last line, differs from the signed checkpoint's root"
        )
        assert ("checkpoint", differs) in said
