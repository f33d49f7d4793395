"""Queries over the projections for the command line and the TUI (DESIGN §9, §10).

Every function takes a :class:`~ledger.projections.projector.Projection` (or a
DuckDB connection), runs on a cursor of its own (safe from worker threads) and
returns typed results from :mod:`ledger.projections.views`. Positions are log
sequence numbers (0-based); ``as_of=None`` means the latest. Ids may be given as
any unique prefix (:func:`resolve`); bad input raises :class:`UsageError`.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import UsageError
from ledger.projections._catalog import (
    event,
    event_at,
    origin,
    reviews,
    scale,
    source_attributions,
    source_view,
    timeline,
)
from ledger.projections._common import (
    AS_OF,
    Cur,
    Cursors,
    Kind,
    at_position,
    body_fields,
    build,
    fetch_all,
    fetch_one,
    position,
    record,
    redacted_seqs,
    resolve,
    signers,
    size,
)
from ledger.projections.diff import word_diff
from ledger.projections.views import (
    Appearance,
    AttributionView,
    Change,
    ClaimPage,
    ClaimRow,
    ClaimState,
    FieldBlame,
    HistoryStep,
    VerdictView,
)


def claim_state(src: Cursors, claim: str, *, as_of: int | str | None = None) -> ClaimState:
    """The claim as of a position: fields, verdict, attributions and who signed each."""
    claim_id = resolve(src, claim, "claim")
    with src.cursor() as cur:
        n = at_position(cur, as_of)
        params = {"c": claim_id, "n": n}
        c = record(cur, f"SELECT * FROM claims WHERE claim_id = $c AND {AS_OF}", params)
        if c is None:
            raise UsageError(f"{claim_id} did not exist yet at position {n}")
        asserted = c["asserted_seq"]
        pointers = [asserted, c["text_seq"], c["status_seq"], c["verdict_seq"]]
        signed, hidden = signers(cur, pointers), redacted_seqs(cur, pointers)
        verdict = _verdict(cur, params)
        appearance = None
        if c["appearance_source"] is not None:
            sql = f"SELECT title FROM sources WHERE source_id = $s AND {AS_OF}"
            title = fetch_one(cur, sql, {"s": c["appearance_source"], "n": n})
            appearance = Appearance(
                source_id=c["appearance_source"],
                source_title=title[0] if title else None,
                quote=c["appearance_quote"],
                locator=c["appearance_locator"],
            )
        fields: list[tuple[str, Any, int | None]] = [
            ("text", c["text"], c["text_seq"]),
            ("kind", c["kind"], asserted),
            ("claimant", c["claimant"], asserted),
            ("topics", c["topics"], asserted),
            ("appearance", c["appearance_source"], asserted),
            ("status", c["status"], asserted if c["status_seq"] is None else c["status_seq"]),
            ("verdict", verdict.rating if verdict else None, c["verdict_seq"]),
        ]
        blame = [
            FieldBlame(field=name, value=value, event=signed[seq], redacted=seq in hidden)
            for name, value, seq in fields
            if seq is not None and seq in signed
        ]
        return ClaimState(
            claim_id=claim_id,
            as_of=n,
            version_seq=c["seq_from"],
            text=c["text"],
            kind=c["kind"],
            claimant=c["claimant"],
            topics=list(c["topics"] or []),
            status=c["status"],
            status_reason=c["status_reason"],
            appearance=appearance,
            verdict=verdict,
            attributions=_attributions(cur, claim_id, n),
            blame=blame,
            redacted=[b.field for b in blame if b.redacted],
        )


def _verdict(cur: Cur, params: dict[str, Any]) -> VerdictView | None:
    row = fetch_one(
        cur,
        "SELECT v.rating, s.value, v.rationale, v.revision, v.changes_rating, v.redacted, "
        "v.seq_from FROM verdicts AS v LEFT JOIN scale AS s ON s.name = v.rating "
        "WHERE v.claim_id = $c AND v.seq_from <= $n AND (v.seq_to IS NULL OR v.seq_to > $n)",
        params,
    )
    if row is None:
        return None
    return build(VerdictView, row[:6], signed=signers(cur, [row[6]])[row[6]])


def _attributions(cur: Cur, claim_id: str, n: int) -> list[AttributionView]:
    rows = fetch_all(
        cur,
        "SELECT a.source_id, s.title, s.grade, a.stance, a.quote, a.locator, a.retrieved, "
        "a.credibility, a.withdrawn, a.withdraw_reason, a.redacted, a.attributed_seq, "
        "a.withdrawn_seq FROM attributions AS a LEFT JOIN sources AS s ON s.source_id = "
        "a.source_id AND s.seq_from <= $n AND (s.seq_to IS NULL OR s.seq_to > $n) "
        "WHERE a.claim_id = $c AND a.seq_from <= $n AND (a.seq_to IS NULL OR a.seq_to > $n) "
        "ORDER BY a.attributed_seq NULLS LAST, a.attr_key",
        {"c": claim_id, "n": n},
    )
    signed = signers(cur, [s for r in rows for s in (r[11], r[12])])
    return [
        build(
            AttributionView,
            r[:11],
            signed=signed.get(r[11]) if r[11] is not None else None,
            withdrawn_by=signed.get(r[12]) if r[8] and r[12] is not None else None,
        )
        for r in rows
    ]


def list_claims(
    src: Cursors,
    *,
    as_of: int | str | None = None,
    status: str | None = None,
    verdict: str | None = None,
    author: str | None = None,
    source: str | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
    newest_first: bool = False,
) -> ClaimPage:
    """A page of claims as of a position, filtered.

    ``verdict`` is a rating name or ``"none"``; ``author`` a key name or a
    fingerprint prefix of anyone who signed an event on the claim; ``source`` a
    source id (prefix) attributed to the claim, or where it appeared; ``text`` a
    case-insensitive substring of the text or the claimant.
    """
    if limit < 0 or offset < 0:
        raise UsageError("limit and offset are not negative")
    source_id = resolve(src, source, "source") if source is not None else None
    with src.cursor() as cur:
        n = at_position(cur, as_of)
        where: list[str] = [AS_OF]
        params: dict[str, Any] = {"n": n}
        if status is not None:
            where.append("status = $status")
            params["status"] = status
        if verdict is not None:
            where.append("verdict IS NULL" if verdict == "none" else "verdict = $verdict")
            if verdict != "none":
                params["verdict"] = verdict
        if text:
            where.append(
                "(contains(lower(text), lower($text)) OR contains(lower(claimant), lower($text)))"
            )
            params["text"] = text
        if source_id is not None:
            where.append(
                "(appearance_source = $source OR claim_id IN (SELECT claim_id FROM attributions "
                f"WHERE source_id = $source AND NOT withdrawn AND {AS_OF}))"
            )
            params["source"] = source_id
        if author:
            where.append(
                "claim_id IN (SELECT e.subject FROM events AS e LEFT JOIN keys_now AS k "
                "ON k.fingerprint = e.author WHERE e.seq <= $n AND "
                "(starts_with(e.author, $author) OR lower(k.name) = lower($author)))"
            )
            params["author"] = author
        base = f"FROM claims WHERE {' AND '.join(where)}"
        total_row = fetch_one(cur, f"SELECT count(*) {base}", params)
        order = "DESC" if newest_first else "ASC"
        page = fetch_all(
            cur,
            f"SELECT claim_id, text, claimant, status, verdict {base} "
            f"ORDER BY asserted_seq {order} NULLS LAST, claim_id LIMIT {limit} OFFSET {offset}",
            params,
        )
        ids = [r[0] for r in page]
        extra = {
            r[0]: r[1:]
            for r in fetch_all(
                cur,
                "SELECT e.subject, (SELECT count(*) FROM attributions AS a WHERE a.claim_id = "
                "e.subject AND NOT a.withdrawn AND a.seq_from <= $n AND (a.seq_to IS NULL OR "
                'a.seq_to > $n)), max(e.seq), arg_max(e."at", e.seq) '
                "FROM events AS e WHERE e.seq <= $n AND e.subject IN (SELECT unnest($ids)) "
                "GROUP BY e.subject",
                {"n": n, "ids": ids},
            )
        }
    rows = [build(ClaimRow, r + extra[r[0]]) for r in page]
    total = int(total_row[0]) if total_row else 0
    return ClaimPage(total=total, offset=offset, limit=limit, as_of=n, rows=rows)


def claim_history(src: Cursors, claim: str) -> list[HistoryStep]:
    """Every event of the claim's stream, oldest first, with word diffs and changed fields."""
    claim_id = resolve(src, claim, "claim")
    with src.cursor() as cur:
        events = fetch_all(
            cur,
            "SELECT seq, kind, body, redacted, redaction_reason FROM events "
            "WHERE subject = $1 ORDER BY seq",
            [claim_id],
        )
        versions = {
            r[0]: r[1:]
            for r in fetch_all(
                cur,
                "SELECT seq_from, text, kind, claimant, status, verdict, text_seq FROM claims "
                "WHERE claim_id = $1 ORDER BY seq_from",
                [claim_id],
            )
        }
        links = {
            r[0]: r[1:]
            for r in fetch_all(
                cur,
                "SELECT a.seq_from, a.attr_key, a.stance, a.withdrawn, p.stance, p.withdrawn "
                "FROM attributions AS a LEFT JOIN attributions AS p ON p.claim_id = a.claim_id "
                "AND p.attr_key = a.attr_key AND p.seq_to = a.seq_from WHERE a.claim_id = $1",
                [claim_id],
            )
        }
        signed = signers(cur, [e[0] for e in events])
    steps: list[HistoryStep] = []
    previous: tuple[Any, ...] = (None, None, None, None, None, None)
    for seq, _kind, body, redacted, reason in events:
        detail = body_fields(body)
        version = versions.get(seq)
        changes: list[Change] = []
        diff: list[Any] = []
        if version is not None:
            if version[5] == seq and not (redacted and version[0] is None):
                diff = word_diff(previous[0], version[0])
                detail.pop("text", None)
            names = ("text", "kind", "claimant", "status", "verdict")
            changes = [
                Change(field=name, old=old, new=new)
                for name, old, new in zip(names, previous[:5], version[:5], strict=True)
                if old != new and name != "text"
            ]
            previous = version
        link = links.get(seq)
        if link is not None:
            attr_key, stance, withdrawn, old_stance, old_withdrawn = link
            old = None if old_withdrawn is None else ("withdrawn" if old_withdrawn else old_stance)
            new = "withdrawn" if withdrawn else stance
            changes.append(Change(field=f"source {attr_key}", old=old, new=new))
            detail.pop("source", None)
            detail.pop("stance", None)
        for change in changes:  # shown as a change: not again as a detail
            detail.pop("rating" if change.field == "verdict" else change.field, None)
        steps.append(
            HistoryStep(
                event=signed[seq],
                text=previous[0],
                diff=diff,
                changes=changes,
                detail=detail,
                redacted=redacted,
                redaction_reason=reason,
            )
        )
    return steps


__all__ = [
    "Cursors",
    "Kind",
    "claim_history",
    "claim_state",
    "event",
    "event_at",
    "list_claims",
    "origin",
    "position",
    "resolve",
    "reviews",
    "scale",
    "size",
    "source_attributions",
    "source_view",
    "timeline",
]
