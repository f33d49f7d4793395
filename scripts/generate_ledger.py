"""Generate a large, valid, deterministic ledger — or a tampered one, one defect class per kind.

Usage::

    python scripts/generate_ledger.py N DIR [--seed S] [--batch B]
    python scripts/generate_ledger.py N DIR [--seed S] --tamper KIND

The first form writes a ledger of N entries into DIR (which must not hold one yet)
that ``factledger verify --unsafe-allow-test-keys`` accepts with no findings. The
mix is that of a busy fact-checking desk: sources ~8%, claims ~20%, attributions
~25%, corrections ~10%, verdicts ~8% (first verdicts and later revisions), status
changes ~10%, notes ~15%, regrades, withdrawals and voided verdicts ~4%, plus key
grants: a reviewer who joins at 25%, and two key rotations (grant the new key, retire
the old one) at 45% and 70%. Texts are 60–300 characters; times follow a synthetic
timeline from 2021 over about three years. Everything is a function of the seed.

Appending is batched: one writer lock and one fold for the whole run
(``Ledger.writer``), one fsync per batch of B (default 5,000) entries, and the
checkpoint signed once at the end. Each entry is sealed with its own author's key
and time, then the batch goes through ``Writer.append_sealed``, which checks every
entry against :mod:`ledger.rules` at its position, as any append does. From
``scripts.sealing.FORK_AT`` entries, most of the sealing runs in a forked worker
beside the generator (:mod:`scripts.sealing`); the bytes written are the same.

The keys are fixed TEST-ONLY keys derived from public labels (``KEY_LABELS``): anyone
can sign with them. Their fingerprints are in ``ledger.trust.TEST_KEY_FINGERPRINTS``,
so verifying a generated ledger needs ``--unsafe-allow-test-keys``.

``--tamper KIND`` first generates DIR as above, then damages it **in place** with one
defect of class KIND and prints, as one JSON line on stdout, the finding that
``factledger verify`` must report first: ``{"rule": ..., "line": ..., "file": ...}``
(``line`` is null for findings about the checkpoint file). Entries the tamper adds
are correctly signed with real keys wherever the defect is not the signature itself,
so the rule under test is what fails. The kinds and the finding each one must
produce are listed in docs/verify.md. Importable: :func:`generate` and :func:`tamper`.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from ledger.events import (
    AnyBody,
    Appearance,
    AttributionWithdrawnBody,
    ClaimAssertedBody,
    ClaimCorrectedBody,
    ClaimStatus,
    ClaimStatusBody,
    CorrectionKind,
    KeyGrantedBody,
    KeyRevokedBody,
    NoteAddedBody,
    Reliability,
    Revision,
    Role,
    SourceAttributedBody,
    SourceRegisteredBody,
    SourceRegradedBody,
    VerdictIssuedBody,
    VerdictVoidedBody,
)
from ledger.keys import SigningKey
from ledger.ledger import Ledger, new_id, new_salt

if not __package__:  # run as a script: make `scripts.` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.sealing import FORK_AT, Draft, ForkedSealer, InlineSealer, Sealer, SealerStopped

ORIGIN: Final = "example.org/generated-claims"
EPOCH: Final = datetime(2021, 1, 4, 8, 0, tzinfo=UTC)
SPAN_SECONDS: Final = 3 * 365 * 86400
_EPOCH_SECONDS: Final = int(EPOCH.timestamp())
_AT_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
BATCH: Final = 5000
MIN_ENTRIES: Final = 40
SCALE: Final = ("true", "mostly-true", "half-true", "mostly-false", "false", "unproven")
GRADES: Final[tuple[Reliability, ...]] = ("A", "B", "C", "D", "E", "F")
CORRECTIONS: Final[tuple[CorrectionKind, ...]] = ("typo", "clarification", "substantive")
REVISIONS: Final[tuple[Revision, ...]] = ("correction", "update")
STATUSES: Final[tuple[ClaimStatus, ...]] = (
    "open",
    "in_review",
    "in_review",
    "published",
    "retracted",
)


# --- keys: fixed TEST-ONLY personas --------------------------------------------------


@dataclass(frozen=True)
class Persona:
    """A person with a TEST-ONLY key derived from ``label``."""

    label: str
    name: str
    role: Role

    @property
    def key(self) -> SigningKey:
        return _KEYS[self.label]


def _derive(label: str) -> SigningKey:
    seed = hashlib.sha256(f"factledger/generate_ledger/TEST-ONLY/{label}".encode()).digest()
    return SigningKey.from_seed(seed, f"{label}@generated.example")


OWNER: Final = Persona("olga-owner", "Olga Owner", "admin")
STAFF: Final = (
    Persona("esme-editor", "Esme Editor", "editor"),
    Persona("emil-editor-2021", "Emil Editor", "editor"),
    Persona("eva-editor", "Eva Editor", "editor"),
    Persona("rosa-reviewer", "Rosa Reviewer", "reviewer"),
    Persona("raj-reviewer-2021", "Raj Reviewer", "reviewer"),
    Persona("rina-reviewer", "Rina Reviewer", "reviewer"),
    Persona("remy-reviewer", "Remy Reviewer", "reviewer"),
)
LATE_JOINER: Final = Persona("rhea-reviewer", "Rhea Reviewer", "reviewer")
ROTATIONS: Final = (
    (0.45, STAFF[4], Persona("raj-reviewer-2023", "Raj Reviewer", "reviewer")),
    (0.70, STAFF[1], Persona("emil-editor-2023", "Emil Editor", "editor")),
)
INTRUDER: Final = Persona("mallory-intruder", "Mallory", "reviewer")
"""Never granted: signs the ``unknown-key`` entry and the ``forged-checkpoint``."""

KEY_LABELS: Final = (
    OWNER.label,
    *(p.label for p in STAFF),
    LATE_JOINER.label,
    *(new.label for _, _, new in ROTATIONS),
    INTRUDER.label,
)
_KEYS: Final = {label: _derive(label) for label in KEY_LABELS}
KEYS_BY_FINGERPRINT: Final = {key.public.fingerprint: key for key in _KEYS.values()}


# --- content -----------------------------------------------------------------------

_VOCABULARY: Final = (
    "the minister said unemployment fell by half since last year according to official "
    "figures released in march but the survey covers only urban households and excludes "
    "seasonal workers while independent analysts dispute the baseline the report cites a "
    "study of hospital admissions which found no significant change after the policy was "
    "introduced in three provinces the spokesperson later clarified that the quoted number "
    "referred to registered claimants rather than the labour force budget deficit inflation "
    "tariffs vaccine emissions election turnout crime rate migration housing prices school "
    "enrolment wages exports subsidies pension reform water supply electricity grid border "
    "customs data archive transcript interview broadcast video photo caption viral post "
    "misleading context missing evidence confirms contradicts partially accurate rounded "
    "estimate percent million billion households respondents sample margin of error "
    "preliminary revised final quarterly annual census ministry agency court ruling"
)
WORDS: Final = tuple(_VOCABULARY.split())
CLAIMANTS: Final = (
    "Minister of Finance",
    "Opposition leader",
    "Viral social media post",
    "City mayor",
    "Health agency spokesperson",
    "Campaign advertisement",
    "Television pundit",
    "Trade union statement",
)
TOPICS: Final = ("economy", "health", "elections", "migration", "climate", "crime", "education")
PUBLISHERS: Final = ("National Statistics Office", "Daily Ledger", "Reuters", "Ministry", None)

KIND_WEIGHTS: Final = {
    "source.registered": 8.0,
    "claim.asserted": 20.0,
    "source.attributed": 25.0,
    "claim.corrected": 10.0,
    "verdict.issued": 8.0,
    "claim.status": 10.0,
    "note.added": 15.0,
    "source.regraded": 1.5,
    "attribution.withdrawn": 1.5,
    "verdict.voided": 1.0,
}
EDITOR_ONLY: Final = frozenset({"verdict.issued", "verdict.voided", "claim.status"})


@dataclass
class _Claim:
    id: str
    rating: str | None = None
    last_rating: str | None = None
    verdicts: int = 0
    attributed: list[str] = field(default_factory=list)


class _Desk:
    """The generator's model of the newsroom: which claims and sources exist, who works."""

    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng = rng
        self.claims: list[_Claim] = []
        self.sources: list[str] = []
        self.reviewers: list[Persona] = []  # filled by the grants
        self.editors: list[Persona] = []
        self.kinds = list(KIND_WEIGHTS)
        self.cum = list(itertools.accumulate(KIND_WEIGHTS.values()))
        self.clock = 0.0
        self.corpus = " ".join(rng.choices(WORDS, k=60_000))
        self.mean_gap = max(1.0, min(90.0, SPAN_SECONDS / n))

    def text(self, lo: int = 60, hi: int = 300) -> str:
        """A sentence of ``lo``–``hi`` characters cut from the run's word stream."""
        rng, corpus = self.rng, self.corpus
        start = corpus.index(" ", rng.randrange(len(corpus) - 2 * hi)) + 1
        cut = corpus[start : start + rng.randint(lo + 12, hi - 1)].rsplit(" ", 1)[0]
        return cut[0].upper() + cut[1:] + "."

    def recent(self, items: list[_Claim] | list[str]) -> int:
        """An index biased towards recent items: work clusters around new claims."""
        return len(items) - 1 - min(int(self.rng.expovariate(1 / 40)), len(items) - 1)

    def tick(self) -> str:
        """The next entry's time: ``format_time`` of the timeline's next second, made
        from ``time.gmtime`` (a third of the cost of building a ``datetime``)."""
        self.clock += self.rng.expovariate(1 / self.mean_gap)
        return time.strftime(_AT_FORMAT, time.gmtime(_EPOCH_SECONDS + int(self.clock)))

    def salt(self) -> str:
        return new_salt(self.rng.randbytes)

    def next_event(self) -> Draft:
        """The next entry of the mix (its time is the next tick)."""
        rng = self.rng
        kind = rng.choices(self.kinds, cum_weights=self.cum)[0]
        if not self.sources:
            kind = "source.registered"
        elif not self.claims and kind != "source.registered":
            kind = "claim.asserted"
        claim = self.claims[self.recent(self.claims)] if self.claims else None
        if kind == "attribution.withdrawn" and (claim is None or not claim.attributed):
            kind = "source.attributed"
        if kind == "verdict.voided" and (claim is None or claim.rating is None):
            kind = "verdict.issued"
        pool = self.editors if kind in EDITOR_ONLY or rng.random() < 0.2 else self.reviewers
        author = rng.choice(pool).label
        body: AnyBody
        if kind == "source.registered":
            subject = new_id("src_", rng.randbytes)
            self.sources.append(subject)
            return Draft(kind, subject, self._source(), author, self.tick())
        if kind == "source.regraded":
            subject = self.sources[self.recent(self.sources)]
            body = SourceRegradedBody(
                salt=self.salt(), reliability=rng.choice(GRADES), reason=self.text(30, 140)
            )
            return Draft(kind, subject, body, author, self.tick())
        if kind == "claim.asserted":
            claim = _Claim(new_id("clm_", rng.randbytes))
            self.claims.append(claim)
            return Draft(kind, claim.id, self._claim(), author, self.tick())
        assert claim is not None
        if kind == "note.added":
            on_source = rng.random() < 0.2
            subject = self.sources[self.recent(self.sources)] if on_source else claim.id
            reply = rng.random() < 0.3  # to the subject's latest entry, named when sealed
            body = NoteAddedBody(salt=self.salt(), text=self.text(), in_reply_to=None)
            return Draft(kind, subject, body, author, self.tick(), reply)
        return Draft(kind, claim.id, self._claim_event(kind, claim), author, self.tick())

    def _source(self) -> SourceRegisteredBody:
        rng = self.rng
        digest = rng.randbytes(32).hex() if rng.random() < 0.5 else None
        url = f"https://news.example/{rng.randbytes(6).hex()}" if rng.random() < 0.8 else None
        return SourceRegisteredBody(
            salt=self.salt(),
            title=self.text(30, 120),
            kind=rng.choice(("article", "report", "interview", "dataset", "statement")),
            publisher=rng.choice(PUBLISHERS),
            url=url,
            published=f"20{rng.randint(18, 20)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            reliability=rng.choice(GRADES),
            archive_url=f"https://archive.example/{rng.randbytes(6).hex()}" if url else None,
            content_sha256=digest,
        )

    def _claim(self) -> ClaimAssertedBody:
        rng = self.rng
        appearance = None
        if rng.random() < 0.6:
            appearance = Appearance(
                source=self.sources[self.recent(self.sources)],
                quote=self.text(30, 140),
                locator=f"para {rng.randint(1, 40)}",
            )
        return ClaimAssertedBody(
            salt=self.salt(),
            text=self.text(),
            kind=rng.choices(("factual", "opinion", "prediction"), (8, 1, 1))[0],
            claimant=rng.choice(CLAIMANTS),
            appearance=appearance,
            topics=sorted(set(rng.choices(TOPICS, k=rng.randint(1, 3)))),
        )

    def _claim_event(self, kind: str, claim: _Claim) -> AnyBody:
        rng, salt = self.rng, self.salt()
        if kind == "source.attributed":
            source = self.sources[self.recent(self.sources)]
            claim.attributed.append(source)
            return SourceAttributedBody(
                salt=salt,
                source=source,
                stance=rng.choice(("supports", "disputes", "context")),
                quote=self.text(30, 140) if rng.random() < 0.7 else None,
                locator=f"p. {rng.randint(1, 90)}" if rng.random() < 0.5 else None,
                retrieved=f"2021-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                credibility=rng.randint(1, 6) if rng.random() < 0.8 else None,
            )
        if kind == "attribution.withdrawn":
            source = claim.attributed.pop(rng.randrange(len(claim.attributed)))
            while source in claim.attributed:
                claim.attributed.remove(source)
            return AttributionWithdrawnBody(salt=salt, source=source, reason=self.text(30, 140))
        if kind == "claim.corrected":
            correction = rng.choice(CORRECTIONS)
            return ClaimCorrectedBody(
                salt=salt, text=self.text(), correction=correction, reason=self.text(30, 140)
            )
        if kind == "verdict.issued":
            return self._verdict(claim, salt)
        if kind == "verdict.voided":
            claim.rating = None
            return VerdictVoidedBody(salt=salt, reason=self.text(30, 140))
        status = rng.choice(STATUSES)
        reason = self.text(30, 140) if rng.random() < 0.5 else None
        return ClaimStatusBody(salt=salt, status=status, reason=reason)

    def _verdict(self, claim: _Claim, salt: str) -> VerdictIssuedBody:
        rng = self.rng
        rating = rng.choice(SCALE)
        revision: Revision | None = None
        changes = False
        if claim.verdicts > 0:
            revision = rng.choice(REVISIONS)
            if rng.random() < 0.3 and claim.last_rating is not None:
                rating = claim.last_rating
            changes = rating != (claim.rating or claim.last_rating)
        claim.rating = claim.last_rating = rating
        claim.verdicts += 1
        return VerdictIssuedBody(
            salt=salt,
            rating=rating,
            rationale=self.text(),
            revision=revision,
            changes_rating=changes,
        )


# --- generation ----------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedLedger:
    """What :func:`generate` wrote."""

    root: Path
    entries: int
    seconds: float
    kinds: dict[str, int]
    keys: dict[str, SigningKey]
    """Every persona's key by label (TEST-ONLY)."""
    sealed_by_worker: int = 0
    """Entries a forked worker sealed (:mod:`scripts.sealing`); the rest were sealed here."""


KeyEvent = tuple[Persona, Persona | None]
"""A persona whose key is granted, and the persona whose key it replaces (a rotation)."""


def _key_events(n: int) -> list[tuple[int, KeyEvent]]:
    """When keys are granted and rotated: (position, event), in log order."""
    plan: list[tuple[int, KeyEvent]] = [(1, (p, None)) for p in STAFF]
    plan.append((max(len(STAFF) + 2, int(0.25 * n)), (LATE_JOINER, None)))
    plan += [(int(fraction * n), (new, old)) for fraction, old, new in ROTATIONS]
    return sorted(plan, key=lambda item: item[0])


def generate(
    n: int,
    root: Path,
    seed: int = 0,
    *,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> GeneratedLedger:
    """Write a valid ledger of ``n`` entries into ``root``; deterministic for ``seed``."""
    if n < MIN_ENTRIES:
        raise ValueError(f"a generated ledger has at least {MIN_ENTRIES} entries, not {n}")
    started = time.monotonic()
    rng = random.Random(seed)
    desk = _Desk(rng, n)
    ledger = Ledger.init(
        root,
        origin=ORIGIN,
        key=OWNER.key,
        owner_name=OWNER.name,
        description=f"Generated ledger (seed {seed}, TEST-ONLY keys)",
        at=desk.tick(),
        rng=rng.randbytes,
    )
    kinds: dict[str, int] = {"ledger.created": 1}
    # Millions of long-lived objects (the fold's index of every event) would make each
    # full garbage collection rescan them all, so the rate would fall as the log grows.
    collecting = gc.isenabled()
    gc.disable()
    try:
        by_worker = _fill(ledger, desk, _key_events(n), kinds, n, batch, progress)
    finally:
        if collecting:
            gc.enable()
    seconds = time.monotonic() - started
    return GeneratedLedger(root, n, seconds, kinds, dict(_KEYS), by_worker)


def _fill(
    ledger: Ledger,
    desk: _Desk,
    plan: list[tuple[int, KeyEvent]],
    kinds: dict[str, int],
    n: int,
    batch: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Append entries 2..n: the planned key events at their positions, the mix around them.

    Returns how many of them a forked worker sealed (none for a small ledger, or where
    a worker cannot be forked safely)."""
    with ledger.writer() as writer:
        sealer: Sealer | None = None
        if n >= FORK_AT:
            sealer = ForkedSealer.start(writer, batch, _KEYS, OWNER.key)
        if sealer is None:
            sealer = InlineSealer(writer, batch, _KEYS, OWNER.key)
        try:
            size = 1
            while size < n:
                while plan and plan[0][0] <= size and size + 2 < n:
                    _, (persona, old) = plan.pop(0)
                    size += _key_event(sealer, desk, persona, old, kinds)
                draft = desk.next_event()
                sealer.add(draft)
                kinds[draft.kind] = kinds.get(draft.kind, 0) + 1
                size += 1
                if progress is not None and size % batch == 0:
                    progress(size, n)
            sealer.flush()
        finally:
            sealer.close()
        return sealer.sealed_by_worker


def _key_event(
    sealer: Sealer,
    desk: _Desk,
    persona: Persona,
    old: Persona | None,
    kinds: dict[str, int],
) -> int:
    """Grant ``persona``'s key; for a rotation also retire ``old``'s. Returns entries written."""
    public = persona.key.public
    grant = KeyGrantedBody(
        salt=desk.salt(), key=public.openssh_line(), name=persona.name, role=persona.role
    )
    sealer.add(Draft("key.granted", public.fingerprint, grant, OWNER.label, desk.tick()))
    kinds["key.granted"] = kinds.get("key.granted", 0) + 1
    pool = desk.editors if persona.role == "editor" else desk.reviewers
    pool.append(persona)
    if old is None:
        return 1
    pool.remove(old)
    revoke = KeyRevokedBody(
        salt=desk.salt(), reason="retired", void_after=None, note=f"{old.name} rotated keys"
    )
    sealer.add(Draft("key.revoked", old.key.public.fingerprint, revoke, OWNER.label, desk.tick()))
    kinds["key.revoked"] = kinds.get("key.revoked", 0) + 1
    return 2


# --- command line --------------------------------------------------------------------


def persona_keys() -> dict[str, SigningKey]:
    """Every persona's TEST-ONLY signing key, by label."""
    return dict(_KEYS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write a valid, deterministic ledger of N entries (TEST-ONLY keys), "
        "or with --tamper a damaged one, and print the finding verify must report first.",
        epilog="exit codes: 0 written, 2 usage error, 3 the sealing worker failed, "
        "130 interrupted (both keep the batches appended before it)",
    )
    parser.add_argument("n", type=int, metavar="N", help=f"number of entries (>= {MIN_ENTRIES})")
    parser.add_argument(
        "dir", type=Path, metavar="DIR", help="where to write (must not hold a ledger)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"entries per fsync ({BATCH})")
    from scripts.tamper_ledger import KINDS, tamper

    parser.add_argument("--tamper", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    args = parser.parse_args(argv)
    if args.n < MIN_ENTRIES or args.batch < 1:
        parser.error(f"N must be at least {MIN_ENTRIES} and --batch positive")
    if (args.dir / "ledger.toml").exists():
        parser.error(f"{args.dir} already holds a ledger")

    def progress(done: int, total: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        print(f"\r{done:,}/{total:,} entries ({rate:,.0f}/s)", end="", file=sys.stderr)

    started = time.monotonic()
    try:
        made = generate(args.n, args.dir, args.seed, batch=args.batch, progress=progress)
    except (KeyboardInterrupt, SealerStopped) as exc:
        # Each batch is appended whole, and the writer's close signs a checkpoint for
        # what was appended: the directory holds a valid, shorter ledger.
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"error: {exc}"
        print(f"\n{why}; {args.dir} keeps the batches appended before it", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 3
    if made.entries >= args.batch:
        print(file=sys.stderr)
    rate = made.entries / max(made.seconds, 1e-9)
    print(
        f"wrote {made.entries:,} entries to {args.dir} in {made.seconds:.2f}s ({rate:,.0f}/s)",
        file=sys.stderr,
    )
    if args.tamper:
        print(json.dumps(asdict(tamper(args.dir, args.tamper))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
