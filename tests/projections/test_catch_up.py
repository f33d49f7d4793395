"""Catch-up and rebuild: the prefix digest in pieces, the memo a refresh clears, and the
rebuild that lets DuckDB read and apply the file while Python checks it.

The prefix digest is the BLAKE3 of the BLAKE3s of the log's first ``byte_offset``
bytes in pieces of ``PIECE`` bytes. With tiny pieces, lines straddle piece ends,
and the digest after any catch-up must be the one computed from scratch here.
"""

from __future__ import annotations

import pytest
from blake3 import blake3

from ledger.errors import DecodeError
from ledger.projections import Projection, _loader, _scan, open_projection, queries
from tests.projections.conftest import Builder, project
from tests.projections.test_projector import dump, meta, small


def pieces_digest(data: bytes, piece: int) -> str:
    digests = [blake3(data[i : i + piece]).digest() for i in range(0, len(data), piece)]
    if len(data) % piece == 0:  # the last, empty piece
        digests.append(blake3(b"").digest())
    return blake3(b"".join(digests)).hexdigest()


@pytest.fixture
def tiny_pieces(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(_scan, "PIECE", 97)
    return 97


def test_pieces_carry_on_across_any_split() -> None:
    data = bytes(range(256)) * 7
    for piece in (1, 5, 64, 97, len(data), 4096):
        for cut in (0, 1, 96, 97, 98, 500, len(data)):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(_scan, "PIECE", piece)
                carried = _scan.Pieces()
                carried.update(data[:cut])
                carried.update(data[cut:])
            assert carried.hexdigest() == pieces_digest(data, piece), (piece, cut)


def test_the_digest_is_of_the_pieces_after_rebuild_and_catch_up(
    builder: Builder, open_proj: list[Projection], tiny_pieces: int
) -> None:
    ids = small(builder)
    path = builder.ledger.events_path
    projection = project(builder.ledger, open_proj)
    m = meta(projection)
    assert m["prefix_digest"] == pieces_digest(path.read_bytes(), tiny_pieces)
    assert len(m["pieces"]) == path.stat().st_size // tiny_pieces
    for full_check in (True, False, True):
        builder.note(ids["clm"], "more " * 40)
        assert projection.refresh(full_check=full_check).action == "caught-up"
        m = meta(projection)
        assert m["prefix_digest"] == pieces_digest(path.read_bytes(), tiny_pieces)
        assert m["byte_offset"] == path.stat().st_size
    fresh = project(builder.ledger, open_proj, in_memory=True)
    assert meta(fresh)["prefix_digest"] == meta(projection)["prefix_digest"]
    assert dump(fresh) == dump(projection)


def test_an_edit_in_any_piece_rebuilds(
    builder: Builder, open_proj: list[Projection], tiny_pieces: int
) -> None:
    small(builder)
    path = builder.ledger.events_path
    open_projection(builder.ledger).close()
    data = path.read_bytes()
    at = data.index(b"137 thousand")
    assert at > 3 * tiny_pieces  # not in the last piece
    path.write_bytes(data.replace(b"137 thousand", b"138 thousand"))
    projection = project(builder.ledger, open_proj, refresh=False)
    done = projection.refresh()
    assert done.action == "rebuilt"
    assert done.reason is not None
    assert "changed" in done.reason


def test_a_refresh_forgets_the_memo(builder: Builder, open_proj: list[Projection]) -> None:
    """Head, key names and scale are kept between queries, never across a refresh."""
    ids = small(builder)
    projection = project(builder.ledger, open_proj)
    before = queries.list_claims(projection)
    assert queries.claim_state(projection, ids["clm"]).as_of == before.as_of
    newcomer = builder.grant(9, "Nina Newcomer")
    builder.key = newcomer
    claim = builder.claim("A new claim by a new key")
    assert projection.refresh().action == "caught-up"
    after = queries.list_claims(projection)
    assert after.as_of == before.as_of + 2
    assert after.total == before.total + 1
    state = queries.claim_state(projection, claim)
    assert [x.event.author_name for x in state.blame] == ["Nina Newcomer"] * len(state.blame)


@pytest.fixture
def duckdb_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rebuild lets DuckDB read and apply the file while Python checks it."""
    monkeypatch.setattr(_loader, "_SMALL_FILE", 0)


def desk_with_redactions(builder: Builder) -> dict[str, str]:
    ids = small(builder)
    note = builder.note(ids["clm"], "a phone number")
    other = builder.claim("Crime doubled", appears_in=ids["src"])
    builder.attribute(other, ids["src"], "supports", 2)
    builder.redact(note.id, "private data")
    builder.verdict(other, "false")
    return ids


def test_a_rebuild_read_by_duckdb_equals_one_read_by_python(
    builder: Builder, open_proj: list[Projection], duckdb_reads: None
) -> None:
    desk_with_redactions(builder)
    by_duckdb = project(builder.ledger, open_proj, in_memory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_loader, "_SMALL_FILE", 1 << 30)
        by_python = project(builder.ledger, open_proj, in_memory=True)
    assert dump(by_duckdb) == dump(by_python)
    assert meta(by_duckdb) == meta(by_python)
    with by_duckdb.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM events WHERE id = ''").fetchone() == (0,)


def test_a_torn_last_line_is_left_out_when_duckdb_reads_it(
    builder: Builder, open_proj: list[Projection], duckdb_reads: None
) -> None:
    desk_with_redactions(builder)
    whole = project(builder.ledger, open_proj, in_memory=True)
    path = builder.ledger.events_path
    with path.open("ab") as out:
        out.write(b'{"at":"2024-05-01T00:00:00Z","author":"SHA256:torn')  # no newline
    torn = project(builder.ledger, open_proj, in_memory=True)
    assert dump(torn) == dump(whole)
    assert meta(torn)["byte_offset"] == meta(whole)["byte_offset"]


def test_a_line_that_does_not_decode_stops_a_rebuild_read_by_duckdb(
    builder: Builder, open_proj: list[Projection], duckdb_reads: None
) -> None:
    desk_with_redactions(builder)
    path = builder.ledger.events_path
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = b'{"not": "an entry"}\n'
    path.write_bytes(b"".join(lines))
    with pytest.raises(DecodeError):
        open_projection(builder.ledger, in_memory=True)


def test_holds_hashes_only_the_pieces_of_a_range_and_sees_an_edit_in_them(
    builder: Builder, open_proj: list[Projection], tiny_pieces: int
) -> None:
    """The TUI's inspector asks, for each entry it shows, whether its bytes are still
    the ones projected; an edit elsewhere in the log is not that entry's change."""
    small(builder)
    path = builder.ledger.events_path
    projection = project(builder.ledger, open_proj)
    data = path.read_bytes()
    pieces = range(0, len(data), tiny_pieces)
    assert all(projection.holds(start, start + 1) for start in pieces)
    assert projection.holds(0, len(data))
    assert not projection.holds(len(data) - 1, len(data) + 1)  # past what was projected
    last = len(pieces) - 1  # the shorter piece, checked through the prefix digest
    for edited in (2, last):
        at = edited * tiny_pieces + 5
        path.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
        held = [projection.holds(start, start + 1) for start in pieces]
        assert held == [piece != edited for piece in range(len(pieces))], edited
        assert not projection.holds(0, len(data))
        assert projection.holds(at - 5 - tiny_pieces, at - 5)  # the piece before it
        path.write_bytes(data)
    path.write_bytes(data[: len(data) // 2])  # cut short: what is gone cannot hold
    assert not projection.holds(len(data) - 10, len(data) - 9)
