"""The fast as-of queries give exactly what a naive recomputation gives, at every position.

``claim_state`` and ``list_claims`` read indexes, ``claim_list`` and ``claim_order``;
:mod:`tests.projections.naive` recomputes the same answers with plain interval
SQL over the history tables. Both are compared at every position of random
ledgers, of a ledger with redactions, and of a log that breaks the rules (claims
touched before their ``claim.asserted``, asserted twice), which the projection
must still show as it is, whether rebuilt or caught up one entry at a time.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import events as ev
from ledger.entry import seal_line
from ledger.errors import UsageError
from ledger.ledger import Ledger, new_id, new_salt
from ledger.projections import Projection, open_projection, queries
from ledger.projections._listing import rank_at
from tests.projections import naive
from tests.projections.conftest import FIXED, OWNER, Builder
from tests.projections.test_projector import dump
from tests.projections.test_property import OPS, interpret

PAGES = ((50, 0), (3, 0), (3, 2), (2, 5), (1, 1), (0, 0), (4, 100))


def filters(projection: Projection, n: int) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(list_claims arguments, the naive WHERE over ``claims AS c``, its parameters)."""
    with projection.cursor() as cur:
        sources = [r[0] for r in cur.execute("SELECT DISTINCT source_id FROM sources").fetchall()]
        ratings = [r[0] for r in cur.execute("SELECT name FROM scale").fetchall()]
    author = (
        "c.claim_id IN (SELECT e.subject FROM events AS e LEFT JOIN keys AS k "
        "ON k.fingerprint = e.author AND k.seq_to IS NULL WHERE e.seq <= $n "
        "AND lower(k.name) = 'olive')"
    )
    text = "contains(lower(c.text), 'the') OR contains(lower(c.claimant), 'the')"
    out: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
        ({"status": "open"}, "c.status = 'open'", {}),
        ({"status": "published"}, "c.status = 'published'", {}),
        (
            {"verdict": "none"},
            "c.verdict IS NULL AND NOT " + naive.VERDICT_REDACTED.format(t="c"),
            {},
        ),
        ({"text": "THE"}, text, {}),
        ({"author": "Olive"}, author, {}),
    ]
    out += [({"verdict": r}, "c.verdict = $r", {"r": r}) for r in ratings[:2]]
    out += [
        (
            {"source": s},
            "c.appearance_source = $s OR c.claim_id IN (SELECT a.claim_id FROM attributions AS a "
            "WHERE a.source_id = $s AND NOT a.withdrawn AND a.seq_from <= $n "
            "AND (a.seq_to IS NULL OR a.seq_to > $n))",
            {"s": s},
        )
        for s in sources[:2]
    ]
    return out


def check_position(projection: Projection, n: int, *, every_filter: bool = True) -> None:
    with projection.cursor() as cur:
        for limit, offset in PAGES:
            for newest in (False, True):
                got = queries.list_claims(
                    projection, as_of=n, limit=limit, offset=offset, newest_first=newest
                )
                want = naive.list_claims(cur, n, limit=limit, offset=offset, newest_first=newest)
                assert got == want, (n, limit, offset, newest)
        if every_filter:
            for kwargs, where, params in filters(projection, n):
                for newest in (False, True):
                    got = queries.list_claims(
                        projection, as_of=n, limit=3, offset=1, newest_first=newest, **kwargs
                    )
                    want = naive.list_claims(
                        cur, n, where=where, params=params, limit=3, offset=1, newest_first=newest
                    )
                    assert got == want, (n, kwargs, newest)
        claims = [r[0] for r in cur.execute("SELECT DISTINCT claim_id FROM claims").fetchall()]
        for claim_id in claims:
            want_state = naive.claim_state(cur, claim_id, n)
            if want_state is None:
                with pytest.raises(UsageError, match="did not exist yet"):
                    queries.claim_state(projection, claim_id, as_of=n)
            else:
                assert queries.claim_state(projection, claim_id, as_of=n) == want_state, n
                assert queries.claim_state(projection, claim_id[:10], as_of=str(n)) == want_state


def check_everywhere(projection: Projection) -> None:
    head = queries.position(projection)
    for n in range(head + 1):
        check_position(projection, n, every_filter=n % 3 == 0 or n == head)


def test_rank_at_skips_the_ended_ranks() -> None:
    ended = [2, 3, 7]
    listed = [r for r in range(1, 20) if r not in ended]
    assert [rank_at(p, ended) for p in range(len(listed))] == listed
    assert [rank_at(p, []) for p in range(5)] == [1, 2, 3, 4, 5]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    program=st.lists(
        st.tuples(st.sampled_from(OPS), st.integers(0, 10_000)), min_size=1, max_size=24
    ),
    seed=st.integers(0, 2**32),
    prefix=st.integers(0, 24),
)
def test_as_of_answers_equal_a_naive_recomputation(
    program: list[tuple[str, int]], seed: int, prefix: int
) -> None:
    drafts, _ = interpret(program, seed)
    with tempfile.TemporaryDirectory() as tmp:
        rand = random.Random(seed)
        led = Ledger.init(
            Path(tmp) / "ledger", origin="prop.example/claims", key=OWNER, owner_name="Olive",
            now=lambda: FIXED, rng=rand.randbytes,
        )  # fmt: skip
        led.append(drafts, OWNER, at="2024-04-01T10:00:00Z")
        full = led.events_path.read_bytes()
        lines = full.splitlines(keepends=True)
        with open_projection(led, in_memory=True) as whole:
            check_everywhere(whole)
            expected = dump(whole)
        led.events_path.write_bytes(b"".join(lines[: 1 + prefix % len(lines)]))
        with open_projection(led, in_memory=True) as growing:
            led.events_path.write_bytes(full)
            growing.refresh()
            assert dump(growing) == expected
            check_everywhere(growing)


def test_a_ledger_with_redactions(builder: Builder) -> None:
    b = builder
    src = b.source("Labour statistics", "B")
    other = b.source("A blog", "E")
    jobs = b.claim("Unemployment fell", appears_in=src)
    asserted = b.appended[-1]
    crime = b.claim("Crime doubled")
    linked = b.attribute(jobs, src, "disputes", 2)
    b.attribute(crime, other)
    b.correct(jobs, "Unemployment fell a lot")
    b.verdict(jobs, "false")
    b.note(jobs)
    judged = b.verdict(crime, "true")
    b.redact(asserted.id)
    b.redact(linked.id)
    b.withdraw(crime, other)
    b.claim("A third claim")
    b.redact(judged.id)
    with open_projection(b.ledger) as projection:
        check_everywhere(projection)
        # The redacted verdict is a verdict whose rating is gone, not no verdict.
        listed = {r.claim_id: r for r in queries.list_claims(projection).rows}
        assert (listed[crime].verdict, listed[crime].verdict_redacted) == (None, True)
        assert (listed[jobs].verdict, listed[jobs].verdict_redacted) == ("false", False)
        unjudged = queries.list_claims(projection, verdict="none").rows
        assert crime not in {r.claim_id for r in unjudged}
        # A catch-up carries the redacted verdict forward from the claim's current version.
        b.status(crime, "in_review")
        assert projection.refresh().action == "caught-up"
        check_everywhere(projection)
        listed = {r.claim_id: r for r in queries.list_claims(projection).rows}
        assert (listed[crime].verdict, listed[crime].verdict_redacted) == (None, True)


def _raw_log(root: Path) -> tuple[Ledger, list[bytes]]:
    """A ledger and the lines of a log no writer would append (the rules are not applied)."""
    rand = random.Random(3)
    led = Ledger.init(
        root, origin="raw.example/claims", key=OWNER, owner_name="Olive",
        now=lambda: FIXED, rng=rand.randbytes,
    )  # fmt: skip
    salt = lambda: new_salt(rand.randbytes)  # noqa: E731
    src = new_id("src_", rand.randbytes)
    early, twice, plain, linked = (new_id("clm_", rand.randbytes) for _ in range(4))

    def asserted(text: str) -> ev.ClaimAssertedBody:
        return ev.ClaimAssertedBody(
            salt=salt(), text=text, kind="factual", claimant="someone", appearance=None, topics=[]
        )

    def status(value: str) -> ev.ClaimStatusBody:
        return ev.ClaimStatusBody(salt=salt(), status=value, reason=None)

    registered = ev.SourceRegisteredBody(
        salt=salt(), title="t", kind="article", publisher=None, url=None, published=None,
        reliability="B", archive_url=None, content_sha256=None,
    )  # fmt: skip
    attributed = ev.SourceAttributedBody(
        salt=salt(), source=src, stance="supports", quote=None, locator=None, retrieved=None,
        credibility=2,
    )  # fmt: skip
    steps: list[tuple[str, str, Any]] = [
        ("source.registered", src, registered),
        ("note.added", early, ev.NoteAddedBody(salt=salt(), text="n", in_reply_to=None)),
        ("claim.status", early, status("in_review")),
        ("claim.asserted", twice, asserted("first")),
        ("source.attributed", early, attributed),
        ("claim.asserted", plain, asserted("plain")),
        ("claim.corrected", early, ev.ClaimCorrectedBody(
            salt=salt(), text="early text", correction="typo", reason="r")),
        ("claim.asserted", twice, asserted("again")),
        ("verdict.issued", twice, ev.VerdictIssuedBody(
            salt=salt(), rating="false", rationale="r", revision=None, changes_rating=False)),
        ("claim.asserted", early, asserted("late")),
        ("note.added", plain, ev.NoteAddedBody(salt=salt(), text="n", in_reply_to=None)),
        ("claim.status", twice, status("published")),
        ("source.attributed", linked, attributed),  # a source before the claim itself
        ("claim.asserted", linked, asserted("linked")),
    ]  # fmt: skip
    lines = []
    for i, (kind, subject, body) in enumerate(steps):
        at = f"2024-04-02T10:{i:02d}:00Z"
        sealed = seal_line(kind=kind, subject=subject, parent=None, at=at, body=body, key=OWNER)
        lines.append(sealed.line + b"\n")
    return led, lines


def test_a_log_that_breaks_the_rules_rebuilt_and_caught_up(tmp_path: Path) -> None:
    led, lines = _raw_log(tmp_path / "raw")
    genesis = led.events_path.read_bytes()
    with led.events_path.open("ab") as out:
        out.writelines(lines)
    with open_projection(led, in_memory=True) as whole:
        check_everywhere(whole)
        expected = dump(whole)
    led.events_path.write_bytes(genesis)
    with open_projection(led, in_memory=True) as growing:
        grow(growing, led.events_path, lines)
        assert dump(growing) == expected
        check_everywhere(growing)


def grow(projection: Projection, path: Path, lines: list[bytes]) -> None:
    """Append ``lines`` to the log one at a time, catching ``projection`` up after each."""
    for line in lines:
        with path.open("ab") as out:
            out.write(line)
        assert projection.refresh().action == "caught-up"


def test_a_voided_verdict_is_shown_until_the_void_and_not_after_it(builder: Builder) -> None:
    b = builder
    claim = b.claim("Unemployment fell by a third in a year.")
    issued = b.verdict(claim, "false", "The survey shows a smaller fall.")
    note = b.note(claim, "checked the survey again")
    voided = b.void(claim, "the verdict named the wrong survey")
    reissued = b.verdict(claim, "mostly-false", "The right survey shows a fall of a fifth.")
    genesis_to_void = voided.seq  # the log up to (not including) the void

    def ratings(projection: Projection) -> list[str | None]:
        states = [
            queries.claim_state(projection, claim, as_of=seq)
            for seq in (issued.seq, note.seq, voided.seq, reissued.seq)
        ]
        return [s.verdict.rating if s.verdict else None for s in states]

    expected = ["false", "false", None, "mostly-false"]
    with open_projection(b.ledger, in_memory=True) as rebuilt:
        assert ratings(rebuilt) == expected
        check_everywhere(rebuilt)
    lines = b.ledger.events_path.read_bytes().splitlines(keepends=True)
    b.ledger.events_path.write_bytes(b"".join(lines[:genesis_to_void]))
    with open_projection(b.ledger, in_memory=True) as growing:
        grow(growing, b.ledger.events_path, lines[genesis_to_void:])
        assert ratings(growing) == expected


def test_attributions_alone_make_no_claim_by_whole_id_or_prefix(builder: Builder) -> None:
    led = builder.ledger
    ghost = new_id("clm_", builder.rng)
    body = ev.SourceAttributedBody(
        salt=builder.salt(), source=builder.source(), stance="supports", quote=None,
        locator=None, retrieved=None, credibility=2,
    )  # fmt: skip
    line = seal_line(
        kind="source.attributed", subject=ghost, parent=None, at=builder.tick(), body=body,
        key=OWNER,
    ).line  # fmt: skip
    with led.events_path.open("ab") as out:
        out.write(line + b"\n")  # no writer would: the rules refuse it
    with open_projection(led, in_memory=True) as projection:
        for asked in (ghost, ghost[:8]):
            with pytest.raises(UsageError, match="no claim matches"):
                queries.claim_state(projection, asked, as_of=None)
