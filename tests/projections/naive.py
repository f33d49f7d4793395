"""Naive recomputations of a claim's state and of the claims list as of a position.

Plain interval SQL over the history tables (claims, verdicts, attributions,
sources, events), one small query per field, as the queries were first written:
no claim_list, no claim_order, no index. The fast queries must give exactly this.
"""

from __future__ import annotations

from typing import Any

import duckdb

from ledger.projections.views import (
    Appearance,
    AttributionView,
    ClaimPage,
    ClaimRow,
    ClaimState,
    FieldBlame,
    Signed,
    VerdictView,
)

Cur = duckdb.DuckDBPyConnection
LIVE = "{t}.seq_from <= $n AND ({t}.seq_to IS NULL OR {t}.seq_to > $n)"
VERDICT_REDACTED = (
    "coalesce((SELECT e.kind = 'verdict.issued' AND e.redacted FROM events AS e "
    "WHERE e.seq = {t}.verdict_seq), FALSE)"
)
"""Whether the event that last set the claim's verdict is a verdict.issued whose body is gone."""


def _signed(cur: Cur, seqs: list[int | None]) -> dict[int, Signed]:
    out = {}
    for seq in {s for s in seqs if s is not None}:
        row = cur.execute(
            'SELECT e.id, e.seq, e.kind, e.author, k.name, e."at" FROM events AS e '
            "LEFT JOIN keys AS k ON k.fingerprint = e.author AND k.seq_to IS NULL "
            "WHERE e.seq = $1",
            [seq],
        ).fetchone()
        assert row is not None
        out[seq] = Signed(
            id=row[0], seq=row[1], kind=row[2], author=row[3], author_name=row[4], at=row[5]
        )
    return out


def claim_state(cur: Cur, claim_id: str, n: int) -> ClaimState | None:
    """The claim as of ``n`` (None if it did not exist yet)."""
    p = {"c": claim_id, "n": n}
    cur.execute(f"SELECT * FROM claims AS c WHERE c.claim_id = $c AND {LIVE.format(t='c')}", p)
    row = cur.fetchone()
    if row is None:
        return None
    c = dict(zip([d[0] for d in cur.description], row, strict=True))
    v = cur.execute(
        "SELECT v.rating, s.value, v.rationale, v.revision, v.changes_rating, v.redacted, "
        "v.seq_from FROM verdicts AS v LEFT JOIN scale AS s ON s.name = v.rating "
        f"WHERE v.claim_id = $c AND {LIVE.format(t='v')}",
        p,
    ).fetchone()
    links = cur.execute(
        "SELECT a.source_id, s.title, s.grade, a.stance, a.quote, a.locator, a.retrieved, "
        "a.credibility, a.withdrawn, a.withdraw_reason, a.redacted, a.attributed_seq, "
        "a.withdrawn_seq FROM attributions AS a LEFT JOIN sources AS s "
        f"ON s.source_id = a.source_id AND {LIVE.format(t='s')} "
        f"WHERE a.claim_id = $c AND {LIVE.format(t='a')} "
        "ORDER BY a.attributed_seq NULLS LAST, a.attr_key",
        p,
    ).fetchall()
    pointers = [c["asserted_seq"], c["text_seq"], c["status_seq"], c["verdict_seq"]]
    signed = _signed(cur, [*pointers, v[6] if v else None, *(s for r in links for s in r[11:])])
    hidden = {
        s
        for s in signed
        if cur.execute("SELECT redacted FROM events WHERE seq = $1", [s]).fetchone() == (True,)
    }
    verdict = None
    if v is not None:
        verdict = VerdictView(
            rating=v[0],
            rating_value=v[1],
            rationale=v[2],
            revision=v[3],
            changes_rating=v[4],
            redacted=v[5],
            signed=signed[v[6]],
        )
    appearance = None
    if c["appearance_source"] is not None:
        title = cur.execute(
            f"SELECT title FROM sources AS s WHERE source_id = $s AND {LIVE.format(t='s')}",
            {"s": c["appearance_source"], "n": n},
        ).fetchone()
        appearance = Appearance(
            source_id=c["appearance_source"],
            source_title=title[0] if title else None,
            quote=c["appearance_quote"],
            locator=c["appearance_locator"],
        )
    asserted = c["asserted_seq"]
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
        if seq is not None
    ]
    attributions = [
        AttributionView(
            source_id=r[0],
            source_title=r[1],
            source_grade=r[2],
            stance=r[3],
            quote=r[4],
            locator=r[5],
            retrieved=r[6],
            credibility=r[7],
            withdrawn=r[8],
            withdraw_reason=r[9],
            redacted=r[10],
            signed=signed[r[11]] if r[11] is not None else None,
            withdrawn_by=signed[r[12]] if r[8] and r[12] is not None else None,
        )
        for r in links
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
        attributions=attributions,
        blame=blame,
        redacted=[b.field for b in blame if b.redacted],
    )


def list_claims(
    cur: Cur,
    n: int,
    *,
    where: str = "TRUE",
    params: dict[str, Any] | None = None,
    limit: int = 50,
    offset: int = 0,
    newest_first: bool = False,
) -> ClaimPage:
    """A page of the claims current as of ``n`` that meet ``where`` (over ``claims``)."""
    p = {**(params or {}), "n": n}
    base = f"FROM claims AS c WHERE {LIVE.format(t='c')} AND ({where})"
    (total,) = cur.execute(f"SELECT count(*) {base}", p).fetchone() or (0,)
    order = "DESC" if newest_first else "ASC"
    page = cur.execute(
        f"SELECT c.claim_id, c.text, c.claimant, c.status, c.verdict, "
        f"{VERDICT_REDACTED.format(t='c')} {base} "
        f"ORDER BY c.asserted_seq {order} NULLS LAST, c.claim_id LIMIT {limit} OFFSET {offset}",
        p,
    ).fetchall()
    rows = []
    for claim_id, *fields in page:
        (sources,) = cur.execute(
            "SELECT count(*) FROM attributions AS a WHERE a.claim_id = $c AND NOT a.withdrawn "
            f"AND {LIVE.format(t='a')}",
            {"c": claim_id, "n": n},
        ).fetchone() or (0,)
        last = cur.execute(
            'SELECT seq, "at" FROM events WHERE subject = $c AND seq <= $n ORDER BY seq DESC '
            "LIMIT 1",
            {"c": claim_id, "n": n},
        ).fetchone()
        assert last is not None
        text, claimant, status, verdict, verdict_redacted = fields
        rows.append(
            ClaimRow(
                claim_id=claim_id,
                text=text,
                claimant=claimant,
                status=status,
                verdict=verdict,
                verdict_redacted=verdict_redacted,
                sources=sources,
                last_seq=last[0],
                last_at=last[1],
            )
        )
    return ClaimPage(total=total, offset=offset, limit=limit, as_of=n, rows=rows)
