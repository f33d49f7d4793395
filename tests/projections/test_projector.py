"""Rebuild, catch-up and cache handling of the DuckDB projections (DESIGN §9)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ledger.entry import event_id
from ledger.errors import DecodeError
from ledger.ledger import Ledger
from ledger.projections import (
    CACHE_NAME,
    SCHEMA_VERSION,
    Projection,
    _loader,
    open_projection,
    queries,
)
from tests.projections.conftest import VECTORS, Builder, project

HOLD = (
    "import duckdb, sys; c = duckdb.connect({path!r}); print('held', flush=True); sys.stdin.read()"
)
TABLES = (
    "events",
    "scale",
    "claims",
    "attributions",
    "sources",
    "verdicts",
    "keys",
    "claim_order",
    "claim_list",
    "claim_states",
)


def dump(projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    with projection.cursor() as cur:
        return {t: cur.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}


def meta(projection: Projection) -> dict[str, Any]:
    with projection.cursor() as cur:
        row = cur.execute("SELECT * FROM meta").fetchone()
        assert row is not None
        return dict(zip([d[0] for d in cur.description], row, strict=True))


def small(builder: Builder) -> dict[str, str]:
    src = builder.source("Labour statistics", "B", url="https://example.org/stats")
    clm = builder.claim("Unemployment fell by 137 thousand last year", appears_in=src)
    builder.attribute(clm, src, "disputes", 4)
    builder.correct(clm, "Unemployment fell by 145 thousand last year")
    builder.verdict(clm, "mostly-false", "The statistics show a smaller fall.")
    builder.status(clm, "published")
    return {"src": src, "clm": clm}


def test_rebuild_projects_every_entry_with_the_ledgers_ids_and_root(
    builder: Builder, open_proj: list[Projection]
) -> None:
    small(builder)
    led = builder.ledger
    projection = project(led, open_proj)
    ids = [event_id(entry) for _, entry in led.entries()]
    with projection.cursor() as cur:
        assert [r[0] for r in cur.execute("SELECT id FROM events ORDER BY seq").fetchall()] == ids
    m = meta(projection)
    assert m["tree_size"] == len(ids)
    assert m["root"] == led.load().root().hex()
    assert m["byte_offset"] == led.events_path.stat().st_size
    assert projection.path == led.cache_dir / CACHE_NAME


def test_vector_ledger_projects_its_redaction_with_the_reason(
    vector_ledger: Ledger, open_proj: list[Projection]
) -> None:
    projection = project(vector_ledger, open_proj)
    data = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
    assert meta(projection)["root"] == data["merkle_root_hex"]
    redacted = queries.event_at(projection, 7)
    assert redacted.redacted
    assert redacted.body is None
    assert redacted.redaction_reason == "erasure request"
    assert redacted.id == data["entries"][7]["event_id"]


def test_catch_up_applies_only_new_entries_and_equals_a_rebuild(
    builder: Builder, open_proj: list[Projection]
) -> None:
    ids = small(builder)
    open_projection(builder.ledger).close()
    builder.withdraw(ids["clm"], ids["src"])
    builder.verdict(ids["clm"], "false")
    projection = project(builder.ledger, open_proj, refresh=False)
    done = projection.refresh()
    assert (done.action, done.applied) == ("caught-up", 2)
    fresh = project(builder.ledger, open_proj, in_memory=True)
    assert dump(projection) == dump(fresh)
    assert projection.refresh().action == "unchanged"


def test_editing_a_line_under_the_cache_rebuilds_instead_of_answering_stale(
    builder: Builder, open_proj: list[Projection]
) -> None:
    ids = small(builder)
    open_projection(builder.ledger).close()
    path = builder.ledger.events_path
    data = path.read_bytes()
    assert data.count(b"137 thousand") == 1
    path.write_bytes(data.replace(b"137 thousand", b"138 thousand"))  # same length
    projection = project(builder.ledger, open_proj, refresh=False)
    done = projection.refresh()
    assert done.action == "rebuilt"
    assert done.reason is not None
    assert "changed" in done.reason
    assert done.rewritten  # the TUI says so loudly
    first = queries.claim_history(projection, ids["clm"])[0]
    assert first.text == "Unemployment fell by 138 thousand last year"


def test_truncating_the_log_under_the_cache_rebuilds(
    builder: Builder, open_proj: list[Projection]
) -> None:
    ids = small(builder)
    open_projection(builder.ledger).close()
    path = builder.ledger.events_path
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))  # drop the verdict and the status
    projection = project(builder.ledger, open_proj)
    state = queries.claim_state(projection, ids["clm"])
    assert state.verdict is None
    assert state.status == "open"
    assert queries.size(projection) == len(lines) - 2


def test_a_redaction_after_projection_is_seen(
    builder: Builder, open_proj: list[Projection]
) -> None:
    ids = small(builder)
    note = builder.note(ids["clm"], "the minister's phone number is ...")
    open_projection(builder.ledger).close()
    builder.redact(note.id, "private data")
    projection = project(builder.ledger, open_proj)
    event = queries.event_at(projection, note.seq)
    assert event.redacted
    assert event.body is None
    assert event.redaction_reason == "private data"


def test_a_redaction_that_moves_no_offset_is_seen_by_the_quick_catch_up(
    builder: Builder, open_proj: list[Projection]
) -> None:
    """A body of 71 bytes becomes a body_hash of as many: no line moves, the last
    entry is where it was, and the TUI's catch-up (no re-hash of the prefix) must still
    drop the body, and not record the rewritten prefix as projected."""
    from ledger import events as ev
    from ledger.codec import canonical, encode_entry

    clm = builder.claim("Turnout rose in every district")
    salt = builder.salt()

    def body_bytes(reason: str) -> int:
        return len(canonical(ev.ClaimStatusBody(salt=salt, status="published", reason=reason)))

    reason = next("x" * k for k in range(1, 60) if body_bytes("x" * k) == 71)
    status = builder.status(clm, "published", reason)
    builder.note(clm)  # the status is not the last entry
    projection = project(builder.ledger, open_proj)
    assert queries.claim_state(projection, clm).status_reason == reason
    size = builder.ledger.events_path.stat().st_size
    redaction = builder.redact(status.id, "erasure request")
    rewritten = builder.ledger.events_path.read_bytes()
    assert len(rewritten) - len(encode_entry(redaction.entry)) - 1 == size  # nothing moved
    done = projection.refresh(full_check=False)
    assert done.action == "rebuilt"
    assert not done.rewritten  # the log's own redaction: no edit from outside
    state = queries.claim_state(projection, clm)
    assert (state.status, state.status_reason, state.redacted) == (None, None, ["status"])
    assert queries.event(projection, status.id).body is None
    assert dump(projection) == dump(project(builder.ledger, open_proj, in_memory=True))


def test_a_corrupt_cache_file_is_rebuilt(builder: Builder, open_proj: list[Projection]) -> None:
    ids = small(builder)
    open_projection(builder.ledger).close()
    cache = builder.ledger.cache_dir / CACHE_NAME
    cache.write_bytes(os.urandom(64 * 1024))
    projection = project(builder.ledger, open_proj)
    assert projection.path == cache
    assert queries.claim_state(projection, ids["clm"]).verdict is not None


def test_a_cache_damaged_in_a_block_is_rebuilt_not_waited_for_as_if_locked(
    builder: Builder, open_proj: list[Projection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB says "Corrupt database file … in block …": the word "lock" is in "block",
    and such a cache was waited for as if another process held it, then read in memory
    with a false reason, on every read from then on (found by review)."""
    small(builder)
    open_projection(builder.ledger).close()
    cache = builder.ledger.cache_dir / CACHE_NAME
    with cache.open("r+b") as handle:
        handle.seek(4096)
        handle.write(os.urandom(4096))
    with pytest.raises(duckdb.Error, match="block"):
        duckdb.connect(str(cache)).execute("SELECT count(*) FROM events").fetchall()
    monkeypatch.setattr(_loader, "LOCK_WAIT", 600.0)  # a wait would fail the test's timeout
    projection = project(builder.ledger, open_proj)
    assert projection.path == cache
    assert projection.note is None
    assert queries.size(projection) == 7


def test_a_cache_from_another_schema_version_is_rebuilt(
    builder: Builder, open_proj: list[Projection]
) -> None:
    small(builder)
    open_projection(builder.ledger).close()
    con = duckdb.connect(str(builder.ledger.cache_dir / CACHE_NAME))
    con.execute("UPDATE meta SET schema_version = 0")
    con.close()
    projection = project(builder.ledger, open_proj, refresh=False)
    assert projection.refresh().action == "rebuilt"


@pytest.mark.parametrize(("version", "seen"), [(3, 3), (SCHEMA_VERSION, -1)])
def test_a_cache_whose_meta_has_other_columns_is_rebuilt(
    builder: Builder, open_proj: list[Projection], version: int, seen: int
) -> None:
    """A cache written before the prefix digest became BLAKE3 (schema 3) names it otherwise;
    other columns under this version's number are no schema this code knows either."""
    ids = small(builder)
    open_projection(builder.ledger).close()
    con = duckdb.connect(str(builder.ledger.cache_dir / CACHE_NAME))
    con.execute("ALTER TABLE meta RENAME COLUMN prefix_digest TO prefix_sha256")
    con.execute(f"UPDATE meta SET schema_version = {version}")
    con.close()
    projection = project(builder.ledger, open_proj, refresh=False)
    done = projection.refresh()
    assert done.action == "rebuilt"
    assert done.reason == f"schema version {seen} is not {SCHEMA_VERSION}"
    assert queries.claim_state(projection, ids["clm"]).verdict is not None


def test_an_unwritable_cache_directory_falls_back_to_memory(
    builder: Builder, open_proj: list[Projection]
) -> None:
    ids = small(builder)
    shutil.rmtree(builder.ledger.cache_dir, ignore_errors=True)
    builder.ledger.cache_dir.write_text("not a directory")  # as root, chmod would not stop us
    projection = project(builder.ledger, open_proj)
    assert projection.path is None
    assert projection.note
    assert queries.claim_state(projection, ids["clm"]).text is not None


FULL_DISK = 'Failed to commit: Could not write file "projections.duckdb.wal": No space left'


def test_a_cache_that_cannot_be_written_falls_back_to_memory_with_the_reason(
    builder: Builder, open_proj: list[Projection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk: DuckDB's commit fails and ends the transaction (so a rollback
    would fail too); the projection goes on in memory, as a read-only cache does."""
    ids = small(builder)
    expected = dump(project(builder.ledger, open_proj, in_memory=True))
    write_meta = Projection._write_meta

    def full_disk(self: Projection, *args: Any) -> None:
        write_meta(self, *args)
        if self.path is not None:
            self._con.rollback()  # as DuckDB ends the transaction whose commit failed
            raise duckdb.TransactionException(FULL_DISK)

    monkeypatch.setattr(Projection, "_write_meta", full_disk)
    projection = project(builder.ledger, open_proj, long_lived=True)  # as a terminal UI
    assert projection.path is None
    # It no longer holds the file, so it no longer says it does (others would not wait).
    assert not (builder.ledger.cache_dir / f"{CACHE_NAME}.holder").exists()
    assert projection.note is not None
    assert projection.note.endswith(f"({FULL_DISK})")
    assert dump(projection) == expected
    assert queries.claim_state(projection, ids["clm"]).text is not None
    monkeypatch.undo()  # space again: the cache file is written, and holds the log
    again = project(builder.ledger, open_proj)
    assert again.path == builder.ledger.cache_dir / CACHE_NAME
    assert dump(again) == expected


HOLD_PROJECTION = (
    "import sys; from pathlib import Path; from ledger.ledger import Ledger; from "
    "ledger.projections import open_projection; "
    "p = open_projection(Ledger.open(Path(sys.argv[1])), long_lived=True); "
    "print('held', flush=True); sys.stdin.read(); p.close()"
)


@contextlib.contextmanager
def held(*argv: str) -> Iterator[subprocess.Popen[str]]:
    """A process that holds the cache file (as another command or a terminal UI does)
    until its standard input is closed."""
    holder = subprocess.Popen([sys.executable, "-c", *argv], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.stdin is not None and not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()


def test_a_cache_held_by_another_process_is_waited_for_then_read_in_memory(
    builder: Builder, open_proj: list[Projection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers fell back to a projection in memory at once, with DuckDB's raw lock
    error as the reason: ten reads at once each rebuilt the whole log (30 s at a
    million entries). A reader now waits a little for the file."""
    small(builder)
    open_projection(builder.ledger).close()
    cache = builder.ledger.cache_dir / CACHE_NAME
    monkeypatch.setattr(_loader, "LOCK_WAIT", 0.3)
    with held(HOLD.format(path=str(cache))) as holder:
        projection = project(builder.ledger, open_proj)
        assert projection.path is None
        assert projection.note == (
            f"another process (PID {holder.pid}) has had {cache} open for over 0.3 s"
        )
        assert queries.size(projection) == 7
    # Let go of while the reader waits, the file is read.
    monkeypatch.setattr(_loader, "LOCK_WAIT", 30.0)
    with held(HOLD.format(path=str(cache))) as holder:
        threading.Timer(0.5, holder.stdin.close if holder.stdin else None).start()
        projection = project(builder.ledger, open_proj)
        assert projection.path == cache
        assert projection.note is None
        assert queries.size(projection) == 7


def test_a_terminal_ui_holding_the_cache_is_not_waited_for(
    builder: Builder, open_proj: list[Projection], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminal UI holds the file as long as it is open: waiting for it would only
    delay every command by the whole wait. It says so beside the file."""
    small(builder)
    cache = builder.ledger.cache_dir / CACHE_NAME
    monkeypatch.setattr(_loader, "LOCK_WAIT", 600.0)  # a wait would fail the test's timeout
    with held(HOLD_PROJECTION, str(builder.ledger.root)) as holder:
        assert (cache.parent / f"{CACHE_NAME}.holder").read_text() == f"{holder.pid}\n"
        projection = project(builder.ledger, open_proj)
        assert projection.path is None
        assert projection.note == f"a terminal UI (PID {holder.pid}) has {cache} open"
        assert queries.size(projection) == 7
    assert not (cache.parent / f"{CACHE_NAME}.holder").exists()  # closed, it says so too
    assert project(builder.ledger, open_proj).path == cache


def test_a_torn_final_line_is_left_out_until_it_is_whole(
    builder: Builder, open_proj: list[Projection]
) -> None:
    ids = small(builder)
    builder.note(ids["clm"])
    path = builder.ledger.events_path
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # the note's line without its end
    projection = project(builder.ledger, open_proj)
    assert queries.size(projection) == 7
    path.write_bytes(data)
    assert projection.refresh().action == "caught-up"
    assert queries.size(projection) == 8


def test_a_log_that_does_not_decode_is_never_projected(
    builder: Builder, open_proj: list[Projection]
) -> None:
    small(builder)
    path = builder.ledger.events_path
    good = path.read_bytes()
    lines = good.splitlines(keepends=True)
    lines[3] = lines[3].replace(b'{"at"', b'{ "at"', 1)  # not canonical
    path.write_bytes(b"".join(lines))
    with pytest.raises(DecodeError) as caught:
        open_projection(builder.ledger)
    assert caught.value.line == 4
    path.write_bytes(good)
    assert queries.size(project(builder.ledger, open_proj)) == 7


def test_a_locked_down_projection_refuses_writes_and_file_access(
    builder: Builder, open_proj: list[Projection]
) -> None:
    small(builder)
    for in_memory in (False, True):
        projection = project(builder.ledger, open_proj, read_only=True, in_memory=in_memory)
        with projection.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM claims_now").fetchone() == (1,)
            with pytest.raises(duckdb.Error):
                cur.execute("COPY events TO 'leak.csv'")
        if not in_memory:
            with projection.cursor() as cur, pytest.raises(duckdb.Error):
                cur.execute("DELETE FROM events")


def test_importing_the_core_and_the_read_commands_does_not_load_duckdb() -> None:
    code = (
        "import sys, ledger.ledger, ledger.cli.context, ledger.cli.read; "
        "print('duckdb' in sys.modules)"
    )
    root = Path(__file__).parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"


def test_a_redacted_claim_body_projects_as_unknown_with_its_reason(
    builder: Builder, open_proj: list[Projection]
) -> None:
    ids = small(builder)
    asserted = next(a for a in builder.appended if a.entry.kind == "claim.asserted")
    builder.redact(asserted.id, "a private person's name")
    projection = project(builder.ledger, open_proj)
    before = queries.claim_state(projection, ids["clm"], as_of=asserted.seq)
    assert before.text is None
    assert before.claimant is None
    assert set(before.redacted) >= {"text", "kind", "claimant"}
    now = queries.claim_state(projection, ids["clm"])
    assert now.text == "Unemployment fell by 145 thousand last year"  # the correction stands
    first = queries.claim_history(projection, ids["clm"])[0]
    assert first.redacted
    assert first.redaction_reason == "a private person's name"
    assert first.diff == []
