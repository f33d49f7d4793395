"""Property: catch-up from any prefix equals a rebuild, and every as-of answer equals a fold.

Random valid event sequences (claims asserted and corrected, sources registered
and regraded, attributions and withdrawals, verdicts and voids, statuses, notes)
are appended to a fresh ledger. The fold below is plain Python over the drafts,
independent of DuckDB and of the projection's SQL.
"""

from __future__ import annotations

import copy
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import events as ev
from ledger.ledger import Draft, Ledger, new_id, new_salt
from ledger.projections import Projection, open_projection, queries
from tests.projections.conftest import FIXED, OWNER
from tests.projections.test_projector import dump

OPS = ("source", "claim", "correct", "attribute", "withdraw", "verdict", "void", "status",
       "regrade", "note")  # fmt: skip
RATINGS = ("true", "mostly-true", "half-true", "mostly-false", "false", "unproven")
WORDS = ("the", "rate", "fell", "rose", "by", "ten", "percent", "in", "May", "jobs")


@dataclass
class ClaimModel:
    text: str
    status: str = "open"
    verdict: str | None = None
    last: str | None = None
    verdicts: int = 0
    links: dict[str, tuple[str, int | None, bool]] = field(default_factory=dict)


@dataclass
class Model:
    claims: dict[str, ClaimModel] = field(default_factory=dict)
    grades: dict[str, str] = field(default_factory=dict)


def interpret(program: list[tuple[str, int]], seed: int) -> tuple[list[Draft], list[Model]]:
    """Turn random choices into valid drafts, with the folded state after each position."""
    rand = random.Random(seed)

    def rng(n: int) -> bytes:
        return rand.randbytes(n)

    model, drafts, states = Model(), [], [Model()]  # position 0 is the genesis

    def add(kind: str, subject: str, body: ev.AnyBody) -> None:
        drafts.append(Draft(kind, subject, body))
        states.append(copy.deepcopy(model))

    for op, pick in program:
        salt = new_salt(rng)
        claims, sources = sorted(model.claims), sorted(model.grades)
        text = " ".join(rand.choice(WORDS) for _ in range(rand.randint(1, 6)))
        if op == "source" or (op == "regrade" and not sources):
            sid = new_id("src_", rng)
            grade = "ABCDEF"[pick % 6]
            model.grades[sid] = grade
            body = ev.SourceRegisteredBody(
                salt=salt, title=text, kind="article", publisher=None, url=None, published=None,
                reliability=grade, archive_url=None, content_sha256=None,
            )  # fmt: skip
            add("source.registered", sid, body)
        elif op == "regrade":
            sid, grade = sources[pick % len(sources)], "ABCDEF"[(pick // 7) % 6]
            model.grades[sid] = grade
            add(
                "source.regraded",
                sid,
                ev.SourceRegradedBody(salt=salt, reliability=grade, reason="r"),
            )
        elif op == "claim" or not claims:
            cid = new_id("clm_", rng)
            model.claims[cid] = ClaimModel(text)
            body = ev.ClaimAssertedBody(
                salt=salt, text=text, kind="factual", claimant="someone", appearance=None, topics=[]
            )
            add("claim.asserted", cid, body)
        else:
            cid = claims[pick % len(claims)]
            c = model.claims[cid]
            live = sorted(s for s, (_, _, gone) in c.links.items() if not gone)
            if op == "correct":
                c.text = text
                body = ev.ClaimCorrectedBody(salt=salt, text=text, correction="typo", reason="r")
                add("claim.corrected", cid, body)
            elif op == "attribute" and sources:
                sid = sources[(pick // 3) % len(sources)]
                stance, cred = ("supports", "disputes", "context")[pick % 3], 1 + pick % 6
                c.links[sid] = (stance, cred, False)
                body = ev.SourceAttributedBody(
                    salt=salt, source=sid, stance=stance, quote=None, locator=None,
                    retrieved=None, credibility=cred,
                )  # fmt: skip
                add("source.attributed", cid, body)
            elif op == "withdraw" and live:
                sid = live[pick % len(live)]
                c.links[sid] = (*c.links[sid][:2], True)
                add(
                    "attribution.withdrawn",
                    cid,
                    ev.AttributionWithdrawnBody(salt=salt, source=sid, reason="r"),
                )
            elif op == "verdict":
                rating = RATINGS[pick % len(RATINGS)]
                first = c.verdicts == 0
                body = ev.VerdictIssuedBody(
                    salt=salt, rating=rating, rationale=text, revision=None if first else "update",
                    changes_rating=False if first else rating != (c.verdict or c.last),
                )  # fmt: skip
                c.verdict = c.last = rating
                c.verdicts += 1
                add("verdict.issued", cid, body)
            elif op == "void" and c.verdict is not None:
                c.verdict = None
                add("verdict.voided", cid, ev.VerdictVoidedBody(salt=salt, reason="r"))
            elif op == "status":
                c.status = ("open", "in_review", "published", "retracted")[pick % 4]
                add(
                    "claim.status", cid, ev.ClaimStatusBody(salt=salt, status=c.status, reason=None)
                )
            else:
                add("note.added", cid, ev.NoteAddedBody(salt=salt, text=text, in_reply_to=None))
    return drafts, states


def check_fold(projection: Projection, states: list[Model], deep: set[int]) -> None:
    """Every position's claims list (and, at ``deep`` positions, attributions) equals the fold."""
    for n, state in enumerate(states):
        page = queries.list_claims(projection, as_of=n, limit=10_000)
        got = {r.claim_id: (r.text, r.status, r.verdict, r.sources) for r in page.rows}
        want = {
            cid: (c.text, c.status, c.verdict, sum(not gone for _, _, gone in c.links.values()))
            for cid, c in state.claims.items()
        }
        assert got == want, f"as of {n}"
        if n not in deep:
            continue
        for cid, c in state.claims.items():
            claim = queries.claim_state(projection, cid, as_of=n)
            links = {
                a.source_id: (a.stance, a.credibility, a.withdrawn) for a in claim.attributions
            }
            assert links == c.links, f"{cid} as of {n}"
        for sid, grade in state.grades.items():
            assert queries.source_view(projection, sid, as_of=n).grade == grade


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    program=st.lists(
        st.tuples(st.sampled_from(OPS), st.integers(0, 10_000)), min_size=1, max_size=14
    ),
    seed=st.integers(0, 2**32),
    data=st.data(),
)
def test_catch_up_from_any_prefix_equals_rebuild_and_as_of_equals_a_fold(
    program: list[tuple[str, int]], seed: int, data: st.DataObject
) -> None:
    drafts, states = interpret(program, seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ledger"
        rand = random.Random(seed)
        led = Ledger.init(
            root, origin="prop.example/claims", key=OWNER, owner_name="Olive",
            now=lambda: FIXED, rng=rand.randbytes,
        )  # fmt: skip
        led.append(drafts, OWNER, at="2024-04-01T10:00:00Z")
        full = led.events_path.read_bytes()
        lines = full.splitlines(keepends=True)
        assert len(lines) == len(states)

        with open_projection(led, in_memory=True) as whole:
            expected = dump(whole)
            deep = {len(states) - 1, data.draw(st.integers(0, len(states) - 1), label="deep")}
            check_fold(whole, states, deep)
        prefix = data.draw(st.integers(1, len(lines)), label="prefix")
        led.events_path.write_bytes(b"".join(lines[:prefix]))
        with open_projection(led, in_memory=True) as growing:
            middle = data.draw(st.integers(prefix, len(lines)), label="middle")
            led.events_path.write_bytes(b"".join(lines[:middle]))
            assert growing.refresh().action in ("caught-up", "unchanged")
            led.events_path.write_bytes(full)
            assert growing.refresh().action in ("caught-up", "unchanged")
            assert dump(growing) == expected
