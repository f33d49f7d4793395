"""Random logs that break the rules are shown as they are, whichever way they are read.

A projection shows what the log holds, valid or not (``verify`` judges it): verdicts
and voids on claims never asserted, attributions before their claim, withdrawals
of nothing, claims asserted twice, redacted lines. At every position the as-of
queries must equal the naive recomputation, and a rebuild read by Python, one read
by DuckDB and a catch-up one entry at a time must hold the same tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger import events as ev
from ledger.codec import decode_entry, encode_entry
from ledger.entry import redacted, seal_line
from ledger.ledger import Ledger, new_id
from ledger.projections import _loader, open_projection
from tests.projections.conftest import OWNER, Builder
from tests.projections.test_as_of import check_position, grow
from tests.projections.test_projector import dump

Make = Callable[[random.Random, Callable[[], str], int, str], ev.AnyBody]

# kind -> (a body for it, whether its subject is a source rather than a claim)
BODIES: dict[str, tuple[Make, bool]] = {
    "claim.asserted": (
        lambda r, salt, i, s: ev.ClaimAssertedBody(
            salt=salt(), text=f"text {i}", kind="factual", claimant="x", appearance=None,
            topics=[],
        ),
        False,
    ),
    "claim.corrected": (
        lambda r, salt, i, s: ev.ClaimCorrectedBody(
            salt=salt(), text=f"corrected {i}", correction="typo", reason="r"
        ),
        False,
    ),
    "claim.status": (
        lambda r, salt, i, s: ev.ClaimStatusBody(
            salt=salt(), status=r.choice(["open", "in_review", "published"]), reason=None
        ),
        False,
    ),
    "verdict.issued": (
        lambda r, salt, i, s: ev.VerdictIssuedBody(
            salt=salt(), rating=r.choice(["true", "false"]), rationale=f"why {i}",
            revision=None, changes_rating=False,
        ),
        False,
    ),
    "verdict.voided": (lambda r, salt, i, s: ev.VerdictVoidedBody(salt=salt(), reason="v"), False),
    "source.registered": (
        lambda r, salt, i, s: ev.SourceRegisteredBody(
            salt=salt(), title=f"source {i}", kind="article", publisher=None, url=None,
            published=None, reliability="B", archive_url=None, content_sha256=None,
        ),
        True,
    ),
    "source.regraded": (
        lambda r, salt, i, s: ev.SourceRegradedBody(salt=salt(), reliability="C", reason="r"),
        True,
    ),
    "source.attributed": (
        lambda r, salt, i, s: ev.SourceAttributedBody(
            salt=salt(), source=s, stance="supports", quote=None, locator=None,
            retrieved=None, credibility=r.randint(1, 6),
        ),
        False,
    ),
    "attribution.withdrawn": (
        lambda r, salt, i, s: ev.AttributionWithdrawnBody(salt=salt(), source=s, reason="w"),
        False,
    ),
    "note.added": (
        lambda r, salt, i, s: ev.NoteAddedBody(salt=salt(), text="n", in_reply_to=None), False
    ),
}  # fmt: skip


def rule_breaking_lines(seed: int, length: int, builder: Builder) -> list[bytes]:
    """``length`` signed lines on three claims and two sources, in any order, some redacted."""
    rand = random.Random(seed)
    claims = [new_id("clm_", builder.rng) for _ in range(3)]
    sources = [new_id("src_", builder.rng) for _ in range(2)]
    lines = []
    for i in range(length):
        kind = rand.choice(sorted(BODIES))
        make, on_source = BODIES[kind]
        source = rand.choice(sources)
        body = make(rand, builder.salt, i, source)
        subject = source if on_source else rand.choice(claims)
        at = f"2024-04-02T10:{i % 60:02d}:00Z"
        line = seal_line(kind=kind, subject=subject, parent=None, at=at, body=body, key=OWNER).line
        if rand.random() < 0.15:
            line = encode_entry(redacted(decode_entry(line)))
        lines.append(line + b"\n")
    return lines


@pytest.mark.parametrize("seed", range(2))
def test_a_rule_breaking_log_reads_the_same_every_way(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = Builder(tmp_path / "ledger", seed=seed)
    led: Ledger = builder.ledger
    genesis = led.events_path.read_bytes()
    lines = rule_breaking_lines(seed, 30, builder)
    led.events_path.write_bytes(genesis + b"".join(lines))
    with open_projection(led, in_memory=True) as whole:
        for n in range(len(lines) + 1):  # the genesis is position 0
            check_position(whole, n, every_filter=n == len(lines))
        expected = dump(whole)
    with monkeypatch.context() as patch:
        patch.setattr(_loader, "_SMALL_FILE", 0)  # DuckDB reads the file, Python checks it
        with open_projection(led, in_memory=True) as by_duckdb:
            assert dump(by_duckdb) == expected
    led.events_path.write_bytes(genesis)
    with open_projection(led, in_memory=True) as growing:
        grow(growing, led.events_path, lines)
        assert dump(growing) == expected  # the same tables: the same answers
