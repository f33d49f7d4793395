"""The claims list as of a position: a page of ``claim_list`` (see queries.list_claims).

The list is sorted by ``asserted_seq`` (NULLS LAST), then ``claim_id``. Without
filters a page is read by rank: ``claim_order`` ranks the stretches of claims
that have an ``asserted_seq`` in that order, so the claims listed as of ``n`` are
ranks ``1..R`` (R: stretches begun by ``n``) less the few stretches already ended
by ``n`` (a claim asserted again), followed by the claims with no
``asserted_seq`` yet. A page is then one range of ranks, read from ``claim_list``
(stored in rank order), instead of sorting every claim. With filters the page is
a scan of ``claim_list`` as of ``n``.
"""

from __future__ import annotations

from typing import Any, Final

from ledger.projections._common import AS_OF, Cur, build, fetch_all, fetch_one
from ledger.projections.views import ClaimRow

_ROW: Final = (
    "claim_id, text, claimant, status, verdict, verdict_redacted, sources, seq_from, last_at"
)
_RANKS: Final = (
    "SELECT count(*) FILTER (WHERE rank IS NOT NULL AND seq_from <= $n), "
    "list(rank) FILTER (WHERE rank IS NOT NULL AND seq_to <= $n), "
    "count(*) FILTER (WHERE rank IS NULL AND seq_from <= $n AND (seq_to IS NULL OR seq_to > $n)) "
    "FROM claim_order"
)


def rank_at(position: int, ended: list[int]) -> int:
    """The rank of the ``position``-th (0-based) listed stretch, skipping ``ended`` ranks."""
    rank = position + 1
    for gone in ended:  # ascending: each ended rank at or below pushes the answer on
        if gone > rank:
            break
        rank += 1
    return rank


def page(
    cur: Cur, n: int, limit: int, offset: int, newest_first: bool
) -> tuple[int, list[ClaimRow]]:
    """(total, rows) of the unfiltered list as of ``n``."""
    counts = fetch_one(cur, _RANKS, {"n": n})
    assert counts is not None
    begun, ended, unranked = int(counts[0]), sorted(counts[1] or []), int(counts[2])
    ranked = begun - len(ended)
    rows: list[tuple[Any, ...]] = []
    end = min(offset + limit, ranked)
    if offset < end:
        first, last = (ranked - end, ranked - 1 - offset) if newest_first else (offset, end - 1)
        rows = fetch_all(
            cur,
            f"SELECT {_ROW} FROM claim_list WHERE rank BETWEEN $a AND $b AND {AS_OF} "
            f"ORDER BY rank {'DESC' if newest_first else 'ASC'}",
            {"a": rank_at(first, ended), "b": rank_at(last, ended), "n": n},
        )
    skip, room = max(0, offset - ranked), offset + limit - max(offset, ranked)
    if room > 0 and skip < unranked:
        rows += fetch_all(
            cur,
            f"SELECT {_ROW} FROM claim_list WHERE rank IS NULL AND {AS_OF} "
            f"ORDER BY claim_id LIMIT {room} OFFSET {skip}",
            {"n": n},
        )
    return ranked + unranked, [build(ClaimRow, r) for r in rows]


def filtered(
    cur: Cur,
    n: int,
    where: list[str],
    params: dict[str, Any],
    limit: int,
    offset: int,
    newest_first: bool,
) -> tuple[int, list[ClaimRow]]:
    """(total, rows) of the list as of ``n`` with extra ``where`` conditions on ``claim_list``."""
    base = f"FROM claim_list WHERE {' AND '.join([AS_OF, *where])}"
    params = {**params, "n": n}
    total = fetch_one(cur, f"SELECT count(*) {base}", params)
    order = "DESC" if newest_first else "ASC"
    rows = fetch_all(
        cur,
        f"SELECT {_ROW} {base} ORDER BY asserted_seq {order} NULLS LAST, claim_id "
        f"LIMIT {limit} OFFSET {offset}",
        params,
    )
    return (int(total[0]) if total else 0), [build(ClaimRow, r) for r in rows]
