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
from ledger.projections import _listing, _state
from ledger.projections._catalog import (
    event,
    event_at,
    origin,
    reviews,
    scale,
    source_attributions,
    source_view,
    timeline,
    verdict_spans,
)
from ledger.projections._common import (
    AS_OF,
    Cursors,
    Kind,
    at_position,
    body_fields,
    fetch_all,
    head,
    position,
    resolve,
    signers,
    size,
)
from ledger.projections.diff import word_diff
from ledger.projections.views import (
    Change,
    ClaimPage,
    ClaimState,
    HistoryStep,
)


def claim_state(src: Cursors, claim: str, *, as_of: int | str | None = None) -> ClaimState:
    """The claim as of a position: fields, verdict, attributions and who signed each."""
    return _state.claim_state(src, claim, as_of)


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

    ``verdict`` is a rating name or ``"none"`` (no verdict; a redacted verdict is one,
    whose rating is not known); ``author`` a key name or a fingerprint prefix of
    anyone who signed an event on the claim; ``source`` a source id (prefix)
    attributed to the claim, or where it appeared; ``text`` a case-insensitive
    substring of the text or the claimant.
    """
    if limit < 0 or offset < 0:
        raise UsageError("limit and offset are not negative")
    source_id = resolve(src, source, "source") if source is not None else None
    with src.cursor() as cur:
        n = at_position(cur, as_of, head=head(src, cur))
        where, params = _where(status, verdict, text, source_id, author)
        if where:
            total, rows = _listing.filtered(cur, n, where, params, limit, offset, newest_first)
        else:
            total, rows = _listing.page(cur, n, limit, offset, newest_first)
    return ClaimPage(total=total, offset=offset, limit=limit, as_of=n, rows=rows)


def claim_index(
    src: Cursors,
    claim: str,
    *,
    as_of: int | str | None = None,
    status: str | None = None,
    verdict: str | None = None,
    author: str | None = None,
    source: str | None = None,
    text: str | None = None,
) -> int | None:
    """Where ``claim`` is in :func:`list_claims` with the same filters (oldest first),
    or ``None`` when it is not listed: the row a list must move to, to show it."""
    source_id = resolve(src, source, "source") if source is not None else None
    with src.cursor() as cur:
        n = at_position(cur, as_of, head=head(src, cur))
        where, params = _where(status, verdict, text, source_id, author)
        base = f"FROM claim_list WHERE {' AND '.join([AS_OF, *where])}"
        params = {**params, "n": n, "c": claim}
        own = fetch_all(cur, f"SELECT asserted_seq {base} AND claim_id = $c", params)
        if not own:
            return None
        # the list's order: asserted_seq (NULLS LAST), then claim_id
        before = (
            "(asserted_seq < $a OR (asserted_seq = $a AND claim_id < $c))"
            if own[0][0] is not None
            else "(asserted_seq IS NOT NULL OR claim_id < $c)"
        )
        row = fetch_all(cur, f"SELECT count(*) {base} AND {before}", {**params, "a": own[0][0]})
    return int(row[0][0])


def _where(
    status: str | None,
    verdict: str | None,
    text: str | None,
    source_id: str | None,
    author: str | None,
) -> tuple[list[str], dict[str, Any]]:
    """The conditions on ``claim_list`` that the list's filters make, and their values."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if status is not None:
        where.append("status = $status")
        params["status"] = status
    if verdict is not None:
        # "none": no verdict; a redacted one is still a verdict, its rating unknown
        where.append(
            "verdict IS NULL AND NOT verdict_redacted"
            if verdict == "none"
            else "verdict = $verdict"
        )
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
    return where, params


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
    "claim_index",
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
    "verdict_spans",
]
