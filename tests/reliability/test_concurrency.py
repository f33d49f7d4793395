"""Concurrent writers and readers on one ledger (DESIGN §6: one writer at a time, queued).

Eight or more processes append at once, on a shared claim and on their own claims,
as single appends (``factledger claim note``) and as batches (``append_batches.py``).
Every entry lands exactly once, as a whole line, and the result verifies. Writers
that state the head they expect (``--parent``) and lose the race get a clean
stale-parent refusal — exit 1, one ``error:`` line, nothing on stdout — and succeed
when they re-read the head and retry.

Readers run throughout: ``factledger log``, ``factledger verify`` and, when the
projections are installed, ``factledger show`` and ``factledger query``. None of
them may ever see a half-written entry: no decode, schema, canonical-form or
signature finding on a complete line, and no traceback. Precisely what a reader
racing a live append may see, given how an append is made (write and fsync the
lines, then write, fsync and rename the checkpoint) and that readers take no lock:

- the log one or more entries ahead of the checkpoint, between the log's fsync and
  the checkpoint's rename. ``verify`` reports it as a ``checkpoint`` finding; it is
  transient and the log is a consistent extension of the checkpoint. Acceptable for
  a local check beside a writer; in CI there is no concurrent writer.
- the checkpoint *ahead* of the log ("the log was truncated"), if an append completes
  between verify's last read of the log and its read of the checkpoint. Not
  acceptable: that is the alarm for an attack. Shown deterministically below.
- a partial final line, while a ``write()`` spanning a page boundary is in flight.
  A torn tail is a crash remnant only when no writer holds the lock; reported while
  one does, it is a false alarm that tells the user to run ``repair``. Not acceptable
  either; shown deterministically below.
- ``factledger log`` (like every ``Ledger.load`` outside the lock) reads the writers'
  state cache while a writer updates it, and can fail with a ``duplicate-id`` error
  naming a line as its own duplicate. Not acceptable; shown deterministically below.

The concurrent run tallies what readers saw (shown in the terminal summary) and fails
on anything outside those categories; the deterministic tests pin the races.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ledger.findings
from ledger import log, statecache
from ledger.cli.main import main
from ledger.codec import decode_entry
from ledger.errors import TornWrite
from ledger.events import NoteAddedBody
from ledger.ledger import Ledger
from tests.reliability.append_batches import claim_draft, marker_of, note_draft
from tests.reliability.conftest import (
    Book,
    amount,
    clean_env,
    error_lines,
    factledger_command,
    helper_command,
    run_factledger,
)

WRITERS = amount(8, 16)
ROUNDS = amount(1, 4)
BATCHES, BATCH_SIZE = 2, 3

try:
    import ledger.projections
except ImportError:  # pragma: no cover - the core alone
    HAVE_PROJECTIONS = False
else:
    HAVE_PROJECTIONS = True

Done = subprocess.CompletedProcess[str]
FORBIDDEN_RULES = {"json", "schema", "canonical", "line-too-long", "base64", "signature"}
"""Findings a reader racing an append must never report: they mean a half-read entry."""


@dataclass
class Job:
    """One appending process: its command, and how many ids it must print."""

    command: list[str]
    expected: int
    markers: list[str]
    result: subprocess.CompletedProcess[str] | None = None


def note_job(book: Book, claim: str, text: str) -> Job:
    args = ["claim", "note", claim, text, "--key", str(book.key_path), "--ledger", str(book.root)]
    return Job([*factledger_command(), *args], 1, [text])


def batch_job(book: Book, claim: str, tag: str) -> Job:
    command = helper_command(
        "append_batches.py", book.root, book.key_path, claim,
        "--batches", str(BATCHES), "--size", str(BATCH_SIZE), "--tag", tag,
    )  # fmt: skip
    markers = [f"{tag} batch {b} item {i}" for b in range(BATCHES) for i in range(BATCH_SIZE)]
    return Job(command, BATCHES * BATCH_SIZE, markers)


@dataclass
class Readers:
    """Reader loops that run until told to stop, tallying what they saw."""

    book: Book
    seen: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    sizes: list[int] = field(default_factory=list)

    def run(self, args: list[str], judge: Callable[[Done], str]) -> None:
        while not self.stop.is_set():
            done = run_factledger(*args, "--ledger", self.book.root)
            try:
                self.seen[f"{args[0]}: {judge(done)}"] += 1
            except (AssertionError, ValueError) as exc:  # ValueError: output not JSON
                self.problems.append(f"{args[0]} exit {done.returncode}: {exc}\n{done.stderr}")

    def judge_log(self, done: subprocess.CompletedProcess[str]) -> str:
        if done.returncode == 1:
            (line,) = error_lines(done.stderr)
            if "[duplicate-id]" in line:  # the state-cache race, pinned below
                return "refused: [duplicate-id] from a state cache updated mid-read"
            assert "[torn-tail]" in line, line
            return "refused: torn tail (an append in flight)"
        assert done.returncode == 0
        docs = [json.loads(line) for line in done.stdout.splitlines()]
        assert [d["seq"] for d in docs] == list(range(len(docs)))
        for doc in docs:
            encoded = json.dumps(
                doc["entry"], separators=(",", ":"), sort_keys=True, ensure_ascii=False
            )
            decode_entry(encoded.encode())  # every listed entry is whole and canonical
        assert not self.sizes or len(docs) >= self.sizes[-1], "the log went backwards"
        self.sizes.append(len(docs))
        return "whole entries"

    def judge_verify(self, done: subprocess.CompletedProcess[str]) -> str:
        error_lines(done.stderr)
        assert done.returncode in (0, 1)
        report = json.loads(done.stdout)
        findings = [f for f in report["findings"] if f["severity"] == "error"]
        rules = {f["rule"] for f in findings}
        assert not rules & FORBIDDEN_RULES, findings
        assert rules <= {"checkpoint", "torn-tail"}, findings
        if not findings:
            return "verified"
        messages = " ".join(f["message"] for f in findings)
        if "torn-tail" in rules:
            return "torn tail (an append in flight)"
        if "truncated" in messages:
            return "checkpoint ahead of the log (race: reported as truncation)"
        return "log ahead of the checkpoint (an append in flight)"

    def judge_projection(self, done: subprocess.CompletedProcess[str]) -> str:
        lines = error_lines(done.stderr)
        if done.returncode == 3:
            (line,) = lines
            assert "cache" in line, line
            return "could not open the cache (held by another process)"
        assert done.returncode == 0
        json.loads(done.stdout)
        return "answered"


def start_readers(readers: Readers, claim: str) -> list[threading.Thread]:
    loops: list[tuple[list[str], Callable[[Any], str]]] = [
        (["log", "--json"], readers.judge_log),
        (["verify", "--format", "json"], readers.judge_verify),
    ]
    if HAVE_PROJECTIONS:
        loops.append((["show", claim, "--json"], readers.judge_projection))
        loops.append((["query", "SELECT count(*) AS n FROM events", "--json"],
                      readers.judge_projection))  # fmt: skip
    threads = [threading.Thread(target=readers.run, args=loop, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    return threads


def run_jobs_at_once(jobs: list[Job]) -> None:
    """Each job in its own thread, all released together, one process at a time per thread."""
    gate = threading.Barrier(len(jobs))

    def work(job: Job) -> None:
        gate.wait()
        job.result = subprocess.run(
            job.command, env=clean_env(), capture_output=True, text=True, timeout=300, check=False
        )

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def note_markers(book: Book) -> Counter[str]:
    return Counter(
        marker_of(entry.body.text)
        for entry in map(decode_entry, book.lines())
        if isinstance(entry.body, NoteAddedBody)
    )


@pytest.mark.timeout(amount(300, 1800))
def test_concurrent_writers_land_every_entry_once_while_readers_see_only_whole_entries(
    book: Book, report_count: Callable[[str], None]
) -> None:
    ledger_ = book.ledger()
    own = [done.entry.subject for done in ledger_.append(
        [claim_draft(f"claim of writer {w}") for w in range(WRITERS)], book.key
    )]  # fmt: skip
    before = book.ids()
    jobs: list[Job] = []
    for w in range(WRITERS):
        for r in range(ROUNDS):
            if w % 2:
                jobs.append(batch_job(book, book.claim, f"w{w} r{r} shared"))
                jobs.append(batch_job(book, own[w], f"w{w} r{r} own"))
            else:
                jobs.append(note_job(book, book.claim, f"w{w} r{r} shared"))
                jobs.append(note_job(book, own[w], f"w{w} r{r} own"))
    readers = Readers(book)
    reader_threads = start_readers(readers, book.claim)
    started = time.monotonic()
    try:
        run_jobs_at_once(jobs)
    finally:
        readers.stop.set()
        for thread in reader_threads:
            thread.join(timeout=120)
    seconds = time.monotonic() - started

    acked: list[str] = []
    for job in jobs:
        assert job.result is not None
        assert job.result.returncode == 0, job.result.stderr
        ids = job.result.stdout.split()
        assert len(ids) == job.expected, job.result.stdout
        acked.extend(ids)
    assert book.events.read_bytes().endswith(b"\n")
    ids = book.ids()
    assert len(ids) == len(set(ids)), "an entry was written twice"
    assert ids[: len(before)] == before
    assert sorted(ids[len(before) :]) == sorted(acked)
    markers = note_markers(book)
    expected = [m for job in jobs for m in job.markers]
    assert sorted(markers.elements()) == sorted(expected)
    verified = run_factledger("verify", book.root, "--format", "json")
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["findings"] == []

    report_count(
        f"{len(jobs)} writer processes ({len(acked)} entries) in {seconds:.0f}s; "
        f"readers saw {dict(readers.seen)}"
    )
    assert not readers.problems, "\n".join(readers.problems[:5])
    assert sum(readers.seen.values()) > 0, "no reader finished while the writers ran"


# --- optimistic concurrency: --parent -------------------------------------------------


def head_of(book: Book, claim: str) -> str:
    """Re-read the claim's head, as a script would before retrying."""
    while True:
        try:
            return book.ledger().load().state.heads[claim]
        except TornWrite:  # an append is in flight (see the module doc)
            time.sleep(0.05)


def append_expecting(book: Book, text: str, parent: str) -> subprocess.CompletedProcess[str]:
    return run_factledger(
        "claim", "note", book.claim, text, "--parent", parent, "--key", book.key_path,
        "--ledger", book.root,
    )  # fmt: skip


def assert_clean_stale_parent_refusal(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    (line,) = error_lines(done.stderr)
    # Besides the one error line, stderr may only say that the writer waited its turn.
    others = [x for x in done.stderr.splitlines() if x != line]
    assert all(x.startswith("waiting for another writer") for x in others), done.stderr
    assert "[stale-parent]" in line, line


@pytest.mark.timeout(amount(300, 1800))
def test_writers_expecting_the_same_head_get_one_success_and_clean_refusals_then_retry(
    book: Book, report_count: Callable[[str], None]
) -> None:
    head = head_of(book, book.claim)
    texts = [f"contender {w}" for w in range(WRITERS)]
    first: dict[str, subprocess.CompletedProcess[str]] = {}
    gate = threading.Barrier(WRITERS)

    def contend(text: str) -> None:
        gate.wait()
        first[text] = append_expecting(book, text, head)

    threads = [threading.Thread(target=contend, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [t for t, done in first.items() if done.returncode == 0]
    assert len(winners) == 1, {t: d.stderr for t, d in first.items()}
    for text, done in first.items():
        if text not in winners:
            assert_clean_stale_parent_refusal(done)

    refusals = Counter[str]()
    landed: dict[str, str] = {winners[0]: first[winners[0]].stdout.strip()}
    rng = random.Random()

    def retry(text: str) -> None:
        for _ in range(60):
            done = append_expecting(book, text, head_of(book, book.claim))
            if done.returncode == 0:
                landed[text] = done.stdout.strip()
                return
            assert_clean_stale_parent_refusal(done)
            refusals[text] += 1
            time.sleep(rng.uniform(0, 0.2))
        raise AssertionError(f"{text} never got through")

    failures: list[BaseException] = []

    def guarded(text: str) -> None:
        try:
            retry(text)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in texts if t not in winners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert sorted(landed) == sorted(texts)
    ids = book.ids()
    assert all(ids.count(eid) == 1 for eid in landed.values())
    markers = note_markers(book)
    assert all(markers[t] == 1 for t in texts)
    assert run_factledger("verify", book.root).returncode == 0
    report_count(
        f"{WRITERS} writers on one head: 1 first-round success, {WRITERS - 1} clean refusals, "
        f"then {sum(refusals.values())} more refusals while retrying"
    )


# --- the two races, made deterministic ------------------------------------------------


def next_line_and_checkpoint(book: Book, scratch: Path) -> tuple[bytes, bytes]:
    """The line and checkpoint the next append would write: made on a copy of the ledger."""
    copy = scratch / "copy"
    shutil.copytree(book.root, copy)
    Ledger.open(copy).append([note_draft(book.claim, "the append in flight")], book.key)
    return (copy / "events.jsonl").read_bytes().splitlines()[-1], (copy / "checkpoint").read_bytes()


@dataclass
class InFlight:
    """A writer that holds the lock with half of its line written, for ``seconds``."""

    book: Book
    line: bytes
    checkpoint: bytes
    seconds: float = 1.0
    written: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with log.locked(self.book.ledger().lock_path):
            half = len(self.line) // 2
            with self.book.events.open("ab") as handle:
                handle.write(self.line[:half])
                handle.flush()
                self.written.set()
                time.sleep(self.seconds)
                handle.write(self.line[half:] + b"\n")
            log.write_atomic(self.book.checkpoint, self.checkpoint)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        assert self.written.wait(timeout=30)
        return thread


def test_verify_while_an_append_is_in_flight_does_not_report_a_torn_tail(
    book: Book, tmp_path: Path
) -> None:
    """A reader that sees a writer's half line must not call it a torn write.

    Today ``verify`` takes no lock, reads the half line and reports ``torn-tail`` with
    the hint to run ``factledger repair`` while the writer is still writing. Taking a
    shared ``flock`` on the lock file for the read would wait the append out.
    """
    writer = InFlight(book, *next_line_and_checkpoint(book, tmp_path)).start()
    report = book.verify()
    writer.join(timeout=30)
    assert [f.rule for f in report.errors] == [], report.errors
    assert report.entries == len(book.ids())


def test_log_while_an_append_is_in_flight_lists_the_complete_entries(
    book: Book, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``factledger log`` beside a live writer: today it exits 1 with "[torn-tail]"."""
    complete = len(book.ids())
    writer = InFlight(book, *next_line_and_checkpoint(book, tmp_path)).start()
    code = main(["log", "--json", "--ledger", str(book.root)])
    writer.join(timeout=30)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(captured.out.splitlines()) >= complete


def test_verify_racing_an_append_never_reports_the_log_as_truncated(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append that completes between verify's read of the log and of the checkpoint.

    ``verify`` reads the log first and the checkpoint last, so it then sees a checkpoint
    covering more entries than the log it read and reports "the log was truncated" —
    the finding for an attack. The window is made deterministic by running the append
    when verify reaches its checkpoint check (``ledger.findings.check_checkpoint``: the
    only seam there is). If verify held a shared lock, the append would wait (the thread
    is given 3 s), or if it read the checkpoint first, the race could only make the log
    look longer.
    """
    original = ledger.findings.check_checkpoint

    def append_then_check(*args: Any, **kwargs: Any) -> None:
        appender = threading.Thread(
            target=lambda: book.ledger().append([note_draft(book.claim, "racing")], book.key),
            daemon=True,
        )
        appender.start()
        appender.join(timeout=3)
        original(*args, **kwargs)
        racing.append(appender)

    racing: list[threading.Thread] = []
    monkeypatch.setattr(ledger.findings, "check_checkpoint", append_then_check)
    report = book.verify()
    racing[0].join(timeout=30)
    messages = [f.message for f in report.errors]
    assert not any("truncated" in m for m in messages), messages


# --- concurrent branches: git merges --------------------------------------------------------


def branch(book: Book, tmp_path: Path) -> Book:
    """A copy of the ledger, as a second clone would hold it."""
    other = tmp_path / "other"
    shutil.copytree(book.root, other)
    return Book(other, book.key_path, book.key, book.claim)


def note_on(book: Book, claim: str, text: str) -> str:
    done = run_factledger(
        "claim", "note", claim, text, "--key", book.key_path, "--ledger", book.root
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_branches_that_append_to_different_claims_merge_unchanged_and_verify(
    book: Book, tmp_path: Path
) -> None:
    second = book.add_claim("The bridge closed in May.")
    base_checkpoint = tmp_path / "base-checkpoint"
    shutil.copyfile(book.checkpoint, base_checkpoint)
    theirs = branch(book, tmp_path)
    ours_id = note_on(book, book.claim, "ours")
    their_id = note_on(theirs, second, "theirs")
    their_line = theirs.lines()[-1]
    done = run_factledger("merge", theirs.events, "--key", book.key_path, "--ledger", book.root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [their_id]
    assert book.ids()[-2:] == [ours_id, their_id]
    assert book.lines()[-1] == their_line  # not re-signed: the same bytes, the same id
    gate = run_factledger("verify", book.root, "--since", base_checkpoint)
    assert gate.returncode == 0, gate.stdout


def test_branches_that_changed_one_claim_from_the_same_head_are_not_merged(
    book: Book, tmp_path: Path
) -> None:
    theirs = branch(book, tmp_path)
    note_on(book, book.claim, "ours")
    note_on(theirs, book.claim, "theirs")
    before = book.events.read_bytes()
    done = run_factledger("merge", theirs.events, "--key", book.key_path, "--ledger", book.root)
    assert done.returncode == 1, done.stderr
    (line,) = error_lines(done.stderr)
    assert book.claim in line
    assert "nothing was merged" in line
    assert book.events.read_bytes() == before
    assert run_factledger("verify", book.root).returncode == 0


def test_a_new_ledger_tells_git_to_keep_its_log_byte_exact_and_never_text_merge_it(
    book: Book,
) -> None:
    """Research §3 row 15: ``*.jsonl -text merge=binary``. Without it git may convert line
    endings (``core.autocrlf``), which makes every line non-canonical, and its text merge
    may interleave two branches' appended lines instead of leaving the log to
    ``factledger merge``. Today ``factledger init`` writes no ``.gitattributes``."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    subprocess.run([git, "init", "-q", str(book.root)], check=True, timeout=60)
    done = subprocess.run(
        [git, "check-attr", "text", "merge", "--", "events.jsonl", "checkpoint"],
        cwd=book.root, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    attrs = dict(
        ((path, name), value) for path, name, value in
        (line.split(": ") for line in done.stdout.splitlines())
    )  # fmt: skip
    assert attrs[("events.jsonl", "text")] == "unset", done.stdout
    assert attrs[("events.jsonl", "merge")] == "binary", done.stdout
    assert attrs[("checkpoint", "text")] == "unset", done.stdout


# --- the writers' state cache, read without the lock -------------------------------------


def test_a_reader_loading_while_a_writer_updates_the_state_cache_sees_one_state(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Ledger.load`` (``factledger log``, ``prove``…) takes no lock and reads the state cache.

    It reads the cache's tail first and its tables row by row later, each query its own
    transaction (``isolation_level=None``), so a writer that commits in between hands it
    a newer state than the tail it folds from: the entry after the tail is then "already
    there", and load fails with ``[duplicate-id] event … already occurs on line N`` naming
    its own line — seen under the concurrent readers above with FACTLEDGER_HEAVY=1. Made
    deterministic by letting a writer append right after the reader opened the cache.
    """
    book.ledger().load()  # the cache exists and matches the log
    original = statecache.open_store
    raced: list[str] = []

    def open_then_let_a_writer_in(*args: Any, **kwargs: Any) -> statecache.Store | None:
        store = original(*args, **kwargs)
        if not raced:
            raced.append("writer")
            book.ledger().append([note_draft(book.claim, "committed meanwhile")], book.key)
        return store

    monkeypatch.setattr(statecache, "open_store", open_then_let_a_writer_in)
    snapshot = book.ledger().load()
    try:
        assert raced == ["writer"]
        assert snapshot.size == len(book.ids())
    finally:
        snapshot.close()


def test_readers_at_the_same_moment_wait_for_the_projection_file_not_fail(
    tmp_path: Path,
) -> None:
    """DuckDB lets one process at a time open the projection file. Readers started
    together each fell back to a rebuild in memory, printing DuckDB's lock error, and
    a `query` that reopens the file read-only failed with it (exit 3). Each now waits
    for the file, briefly, and every one answers from it."""
    demo = Path(__file__).resolve().parents[2] / "fixtures" / "ledgers"
    root = tmp_path / "demo"
    shutil.copytree(demo / "firstpost-2024-al-qaeda-taliban", root)
    assert run_factledger("query", "SELECT 1", cwd=root).returncode == 0  # builds the cache
    argvs = [("query", "SELECT count(*) FROM events"), ("show", "clm_gideosdvlpte")] * 5
    readers = [
        subprocess.Popen([*factledger_command(), *argv], cwd=root, env=clean_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for argv in argvs
    ]  # fmt: skip
    answers = [reader.communicate(timeout=120) for reader in readers]
    assert [reader.returncode for reader in readers] == [0] * len(argvs)
    assert [err for _, err in answers] == [""] * len(argvs)
    assert {out for out, _ in answers[0::2]} == {"count_star()\n------------\n210\n(1 row)\n"}
