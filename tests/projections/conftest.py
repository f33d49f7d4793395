"""Test ledgers for the projections, built through the public Ledger API."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import events as ev
from ledger.keys import SigningKey
from ledger.ledger import Appended, Draft, Ledger, LedgerConfig, format_time, new_id, new_salt
from ledger.projections import Projection, open_projection

FIXED = datetime(2024, 4, 1, 9, 0, tzinfo=UTC)
OWNER = SigningKey.from_seed(b"\x01" * 32, "olive@example.org")
VECTORS = Path(__file__).parents[2] / "fixtures" / "vectors" / "factledger-format"


class Builder:
    """Appends valid events one at a time, each a minute after the last (or at ``day``)."""

    def __init__(self, root: Path, seed: int = 7) -> None:
        self._random = random.Random(seed)
        self.key = OWNER
        self.clock = FIXED
        self.ledger = Ledger.init(
            root,
            origin="test.example/claims",
            key=OWNER,
            owner_name="Olive Owner",
            now=lambda: FIXED,
            rng=self.rng,
        )
        self.ratings: dict[str, str | None] = {}
        self.appended: list[Appended] = []
        self._issued: set[str] = set()
        self._last: dict[str, str] = {}

    def rng(self, n: int) -> bytes:
        return self._random.randbytes(n)

    def salt(self) -> str:
        return new_salt(self.rng)

    def tick(self, day: str | None = None) -> str:
        if day is not None:
            self.clock = datetime.fromisoformat(day).replace(tzinfo=UTC)
        else:
            self.clock += timedelta(minutes=1)
        return format_time(self.clock)

    def append(
        self,
        kind: str,
        subject: str,
        body: ev.AnyBody,
        *,
        key: SigningKey | None = None,
        day: str | None = None,
    ) -> Appended:
        (done,) = self.ledger.append(
            [Draft(kind, subject, body)], key or self.key, at=self.tick(day)
        )
        self.appended.append(done)
        return done

    def grant(self, seed: int, name: str, role: str = "editor") -> SigningKey:
        key = SigningKey.from_seed(bytes([seed]) * 32, f"{name.lower()}@example.org")
        line = key.public.openssh_line()
        body = ev.KeyGrantedBody(salt=self.salt(), key=line, name=name, role=role)
        self.append("key.granted", key.public.fingerprint, body)
        return key

    def source(self, title: str = "A report", reliability: str = "B", **kw: object) -> str:
        sid = new_id("src_", self.rng)
        body = ev.SourceRegisteredBody(
            salt=self.salt(),
            title=title,
            kind="report",
            publisher=None,
            url=kw.get("url"),
            published=None,
            reliability=reliability,
            archive_url=None,
            content_sha256=None,
        )
        self.append("source.registered", sid, body, day=kw.get("day"))
        return sid

    def regrade(self, source: str, reliability: str, reason: str = "new evidence") -> Appended:
        body = ev.SourceRegradedBody(salt=self.salt(), reliability=reliability, reason=reason)
        return self.append("source.regraded", source, body)

    def claim(
        self,
        text: str,
        claimant: str = "A minister",
        *,
        appears_in: str | None = None,
        day: str | None = None,
        key: SigningKey | None = None,
    ) -> str:
        cid = new_id("clm_", self.rng)
        appearance = None
        if appears_in is not None:
            appearance = ev.Appearance(source=appears_in, quote="said so", locator="p. 1")
        body = ev.ClaimAssertedBody(
            salt=self.salt(),
            text=text,
            kind="factual",
            claimant=claimant,
            appearance=appearance,
            topics=["economy"],
        )
        self.append("claim.asserted", cid, body, day=day, key=key)
        self.ratings[cid] = None
        return cid

    def correct(self, claim: str, text: str, **kw: object) -> Appended:
        body = ev.ClaimCorrectedBody(salt=self.salt(), text=text, correction="typo", reason="fix")
        return self.append("claim.corrected", claim, body, **kw)

    def attribute(
        self, claim: str, source: str, stance: str = "supports", credibility: int | None = 3
    ) -> Appended:
        body = ev.SourceAttributedBody(
            salt=self.salt(),
            source=source,
            stance=stance,
            quote="a quote",
            locator="p. 2",
            retrieved=None,
            credibility=credibility,
        )
        return self.append("source.attributed", claim, body)

    def withdraw(self, claim: str, source: str, reason: str = "misread") -> Appended:
        body = ev.AttributionWithdrawnBody(salt=self.salt(), source=source, reason=reason)
        return self.append("attribution.withdrawn", claim, body)

    def verdict(self, claim: str, rating: str, rationale: str = "why", **kw: object) -> Appended:
        first = claim not in self._issued
        last = self.ratings.get(claim) or self._last.get(claim)
        body = ev.VerdictIssuedBody(
            salt=self.salt(),
            rating=rating,
            rationale=rationale,
            revision=None if first else "update",
            changes_rating=False if first else rating != last,
        )
        done = self.append("verdict.issued", claim, body, **kw)
        self._issued.add(claim)
        self.ratings[claim] = self._last[claim] = rating
        return done

    def void(self, claim: str, reason: str = "wrong claim") -> Appended:
        self.ratings[claim] = None
        body = ev.VerdictVoidedBody(salt=self.salt(), reason=reason)
        return self.append("verdict.voided", claim, body)

    def status(self, claim: str, status: str, reason: str | None = None) -> Appended:
        body = ev.ClaimStatusBody(salt=self.salt(), status=status, reason=reason)
        return self.append("claim.status", claim, body)

    def note(self, subject: str, text: str = "a note") -> Appended:
        body = ev.NoteAddedBody(salt=self.salt(), text=text, in_reply_to=None)
        return self.append("note.added", subject, body)

    def redact(self, target: str, reason: str = "erasure request") -> Appended:
        done = self.ledger.redact(target, reason, self.key, at=self.tick(), rng=self.rng)
        self.appended.append(done)
        return done


@pytest.fixture
def builder(tmp_path: Path) -> Builder:
    return Builder(tmp_path / "ledger")


@pytest.fixture
def vector_ledger(tmp_path: Path) -> Ledger:
    """The independent format-vector ledger (12 entries, one redaction) in a temp directory."""
    root = tmp_path / "vectors"
    shutil.copytree(VECTORS / "ledger", root)
    config = LedgerConfig(
        origin="example.org/demo-claims",
        trust_root="SHA256:i9gOlPZf3grgT6WjnSG7xW5NpC768eld4VPacLAd9Bo",
    )
    (root / "ledger.toml").write_text(config.to_toml(), encoding="utf-8")
    return Ledger.open(root)


@pytest.fixture
def open_proj() -> Iterator[list[Projection]]:
    """Projections opened by a test, closed after it."""
    opened: list[Projection] = []
    yield opened
    for projection in opened:
        projection.close()


def project(ledger: Ledger, opened: list[Projection], **kw: bool) -> Projection:
    projection = open_projection(ledger, **kw)
    opened.append(projection)
    return projection
