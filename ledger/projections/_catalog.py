"""Projection queries about sources, events, the timeline and the export (see queries.py)."""

from __future__ import annotations

import msgspec

from ledger.errors import UsageError
from ledger.projections._common import (
    AS_OF,
    Cursors,
    at_position,
    build,
    fetch_all,
    fetch_one,
    last_seq,
    resolve,
    signers,
)
from ledger.projections.views import (
    DayCount,
    EventView,
    ReviewRow,
    ScaleStep,
    SourceAttribution,
    SourceView,
)

# --- sources -----------------------------------------------------------------------


def source_view(src: Cursors, source: str, *, as_of: int | str | None = None) -> SourceView:
    """A source as of a position, with its grade and who registered and graded it."""
    source_id = resolve(src, source, "source")
    with src.cursor() as cur:
        n = at_position(cur, as_of)
        row = fetch_one(
            cur,
            "SELECT title, kind, publisher, url, published, grade, grade_reason, redacted, "
            f"registered_seq, grade_seq FROM sources WHERE source_id = $s AND {AS_OF}",
            {"s": source_id, "n": n},
        )
        if row is None:
            raise UsageError(f"{source_id} did not exist yet at position {n}")
        signed = signers(cur, row[8:])
    return build(
        SourceView,
        (source_id, n, *row[:8]),
        registered=signed.get(row[8]) if row[8] is not None else None,
        graded=signed.get(row[9]) if row[9] is not None else None,
    )


def source_attributions(
    src: Cursors, source: str, *, as_of: int | str | None = None, withdrawn: bool = True
) -> list[SourceAttribution]:
    """The claims a source is attributed to as of a position (withdrawn ones too, by default)."""
    source_id = resolve(src, source, "source")
    with src.cursor() as cur:
        n = at_position(cur, as_of)
        rows = fetch_all(
            cur,
            "SELECT a.claim_id, c.text, a.stance, a.quote, a.locator, a.credibility, "
            "a.withdrawn, a.withdraw_reason, a.seq_from FROM attributions AS a "
            "LEFT JOIN claims AS c ON c.claim_id = a.claim_id AND c.seq_from <= $n AND "
            "(c.seq_to IS NULL OR c.seq_to > $n) WHERE a.source_id = $s AND a.seq_from <= $n "
            "AND (a.seq_to IS NULL OR a.seq_to > $n) AND ($w OR NOT a.withdrawn) "
            "ORDER BY a.attributed_seq NULLS LAST, a.claim_id",
            {"s": source_id, "n": n, "w": withdrawn},
        )
    return [build(SourceAttribution, r) for r in rows]


# --- events and the timeline -----------------------------------------------------


def timeline(src: Cursors) -> list[DayCount]:
    """Events per day (author-stated UTC date), oldest first."""
    with src.cursor() as cur:
        rows = fetch_all(
            cur,
            'SELECT substr("at", 1, 10) AS day, count(*), min(seq), max(seq) FROM events '
            "GROUP BY day ORDER BY day",
        )
    return [build(DayCount, r) for r in rows]


def event_at(src: Cursors, seq: int) -> EventView:
    """The entry at a log position."""
    with src.cursor() as cur:
        head = last_seq(cur)
        if not 0 <= seq <= head:
            raise UsageError(f"position {seq} is outside the log (0 to {head})")
        row = fetch_one(
            cur,
            'SELECT e.seq, e.id, e.kind, e.subject, e.parent, e."at", e.author, k.name, e.body, '
            "e.body_hash, e.redacted, e.redaction_reason, e.byte_offset, e.byte_length "
            "FROM events AS e LEFT JOIN keys_now AS k ON k.fingerprint = e.author "
            "WHERE e.seq = $1",
            [seq],
        )
    assert row is not None
    body = msgspec.json.decode(row[8]) if row[8] is not None else None
    return build(EventView, (*row[:8], body, *row[9:]))


def event(src: Cursors, event_id: str) -> EventView:
    """The entry with this id (any unique prefix)."""
    full = resolve(src, event_id.lower(), "event")
    with src.cursor() as cur:
        row = fetch_one(cur, "SELECT seq FROM events WHERE id = $1", [full])
    assert row is not None
    return event_at(src, int(row[0]))


# --- the ledger and the export -----------------------------------------------------


def scale(src: Cursors) -> list[ScaleStep]:
    """The ledger's rating scale, in its order."""
    with src.cursor() as cur:
        rows = fetch_all(cur, "SELECT name, value FROM scale ORDER BY position")
    return [build(ScaleStep, r) for r in rows]


def origin(src: Cursors) -> str | None:
    """The ledger's origin, from ``ledger.created``."""
    with src.cursor() as cur:
        row = fetch_one(cur, "SELECT body ->> '$.origin' FROM events WHERE seq = 0")
    return row[0] if row else None


def verdict_spans(
    src: Cursors, author: str, after_seq: int, before_seq: int
) -> list[tuple[str, int, int | None]]:
    """``(claim, from, to)`` for each verdict ``author`` issued after position
    ``after_seq`` and before ``before_seq``: it was the claim's current verdict from
    ``from`` until the claim's next verdict event at ``to`` (``None``: still is)."""
    with src.cursor() as cur:
        rows = fetch_all(
            cur,
            "SELECT v.claim_id, v.seq_from, v.seq_to FROM verdicts AS v "
            "JOIN events AS e ON e.seq = v.seq_from "
            "WHERE e.author = $a AND v.seq_from > $lo AND v.seq_from < $hi ORDER BY v.seq_from",
            {"a": author, "lo": after_seq, "hi": before_seq},
        )
    return [(str(r[0]), int(r[1]), None if r[2] is None else int(r[2])) for r in rows]


def reviews(src: Cursors) -> list[ReviewRow]:
    """Claims with a current verdict, for the ClaimReview export (oldest claim first)."""
    with src.cursor() as cur:
        rows = fetch_all(
            cur,
            'SELECT c.claim_id, c.text, c.claimant, v.rating, s.value, v.rationale, e."at", e.id, '
            "so.url, so.title, e.seq, e.author, te.seq, te.author FROM claims_now AS c "
            "JOIN verdicts_now AS v ON v.claim_id = c.claim_id "
            "JOIN events AS e ON e.seq = v.seq_from "
            "LEFT JOIN events AS te ON te.seq = c.text_seq "
            "LEFT JOIN scale AS s ON s.name = v.rating "
            "LEFT JOIN sources_now AS so ON so.source_id = c.appearance_source "
            "WHERE v.rating IS NOT NULL ORDER BY c.asserted_seq NULLS LAST, c.claim_id",
        )
    return [build(ReviewRow, r) for r in rows]
