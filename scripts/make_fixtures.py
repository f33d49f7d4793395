"""Build the demo ledger from its declarative description, byte for byte.

Usage:
  python scripts/make_fixtures.py           write fixtures/ledgers/firstpost-2024-al-qaeda-taliban/
                                            (and any missing demo key under fixtures/keys/)
  python scripts/make_fixtures.py --check   build into a temporary directory and compare it
                                            with the committed ledger; exit 1 on a difference

The description is fixtures/demo/firstpost-2024-al-qaeda-taliban.toml (its header and
fixtures/demo/README.md explain the conventions). Every event goes through the public
API — ``Ledger.init``, ``Ledger.writer``/``Writer.append`` and ``Ledger.redact`` — so the
core's rules check each one exactly as they check a reviewer's command. Ids and salts
come from a seeded RNG and every ``at`` from the description, so two builds are equal.

The demo keys are public (fixtures/keys/README.md): each seed is
sha256(b"factledger demo key " + label), and their fingerprints are listed in
``ledger.trust.TEST_KEY_FINGERPRINTS`` so that no ledger rooted in one verifies by default.

Exit status: 0 ok, 1 the committed ledger differs (--check), 2 the description or the
keys are refused (the message names the event).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from ledger.errors import LedgerError
from ledger.events import BODY_TYPES, AnyBody
from ledger.keys import SigningKey, load_signing_key, parse_public_key, save_signing_key
from ledger.ledger import Draft, Ledger, new_id, new_salt
from ledger.rules import parse_time

REPO = Path(__file__).resolve().parent.parent
NAME = "firstpost-2024-al-qaeda-taliban"
DESCRIPTION = REPO / "fixtures" / "demo" / f"{NAME}.toml"
KEYS_DIR = REPO / "fixtures" / "keys"
OUT = REPO / "fixtures" / "ledgers" / NAME
FILES = ("ledger.toml", "events.jsonl", "checkpoint", ".gitignore", ".gitattributes", "README.md")
"""What a build writes and ``--check`` compares (the lock file and .cache are not data)."""
RNG_SEED = int.from_bytes(hashlib.sha256(f"factledger demo ledger {NAME}".encode()).digest()[:8])
KEY_SEED_PREFIX = b"factledger demo key "
KEY_COMMENT = "{label}@demo.factledger.example (DEMO KEY - never trust)"

README = f"""\
# Demo ledger: {NAME}

**This is demonstration data for the factledger software, not a published fact-check.**
A fictional team (the names carry "(demo)") reviews the claims of a 2024 Firstpost
opinion piece; the review history is illustrative and must not be cited as an
assessment of the article. The article itself is not part of this project: the ledger
records only short quotes and the article's SHA-256.

Every entry is signed with a public demo key from `fixtures/keys/`, which anyone can
sign with, so `factledger verify` refuses this ledger unless it is given
`--unsafe-allow-test-keys`. Never trust these keys for real work.

The files here are generated; do not edit them. They are built from
`fixtures/demo/{NAME}.toml` with

```
.venv/bin/python scripts/make_fixtures.py          # rebuild
.venv/bin/python scripts/make_fixtures.py --check  # confirm the committed files match
```

Try it with `factledger demo`, which copies this ledger into a new directory.
"""


class BuildError(Exception):
    """The description or the keys cannot be turned into a valid ledger."""


@dataclass(frozen=True)
class Ref:
    """A named event of the description: its kind, subject stream and event id."""

    kind: str
    subject: str
    event_id: str


# --- keys ------------------------------------------------------------------------------


def demo_seed(label: str) -> bytes:
    """The public, deterministic seed of a demo key."""
    return hashlib.sha256(KEY_SEED_PREFIX + label.encode()).digest()


def demo_key(label: str) -> SigningKey:
    return SigningKey.from_seed(demo_seed(label), comment=KEY_COMMENT.format(label=label))


def key_path(keys_dir: Path, label: str) -> Path:
    return keys_dir / f"demo-{label}.key"


def write_missing_keys(keys_dir: Path, labels: list[str]) -> list[Path]:
    """Create the key files that do not exist yet (mode 0600, unencrypted OpenSSH)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for label in labels:
        path = key_path(keys_dir, label)
        if not path.exists():
            save_signing_key(demo_key(label), path, None)
            written.append(path)
    return written


def load_keys(keys_dir: Path, labels: list[str]) -> dict[str, SigningKey]:
    """Load each label's key file and check it is the derived demo key, with its comment."""
    keys = {}
    for label in labels:
        path = key_path(keys_dir, label)
        try:
            key = load_signing_key(path, None)
        except LedgerError as exc:
            raise BuildError(f"key {label!r}: {exc.one_line()}") from None
        expected = demo_key(label)
        if key.public != expected.public or key.public.comment != expected.public.comment:
            raise BuildError(
                f"{path.name} is not the demo key derived for {label!r} "
                f"(expected {expected.public.fingerprint}, comment {expected.public.comment!r})"
            )
        keys[label] = key
    return keys


# --- events ----------------------------------------------------------------------------


class _Fields:
    """One [[events]] table; remembers which fields were read so leftovers are an error."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.used = {"at", "by", "kind", "ref"}

    def get(self, name: str) -> Any:
        self.used.add(name)
        if name not in self.table:
            raise BuildError(f"missing field {name!r}")
        return self.table[name]

    def opt(self, name: str) -> Any:
        self.used.add(name)
        return self.table.get(name)

    def check_all_used(self) -> None:
        if extra := sorted(self.table.keys() - self.used):
            raise BuildError(f"unexpected field(s) {', '.join(extra)}")


class _Builder:
    """Turns description events into drafts, resolving refs and labels, in ledger order."""

    def __init__(self, doc: dict[str, Any], keys: dict[str, SigningKey], keys_dir: Path) -> None:
        self.doc = doc
        self.keys = keys
        self.keys_dir = keys_dir
        self.refs: dict[str, Ref] = {}
        self.ratings: dict[str, tuple[str | None, str | None]] = {}  # claim -> current, last
        self.rng: Callable[[int], bytes] = random.Random(RNG_SEED).randbytes

    def ref(self, name: Any, kind: str | None = None) -> Ref:
        ref = self.refs.get(name) if isinstance(name, str) else None
        if ref is None or (kind is not None and ref.kind != kind):
            raise BuildError(f"ref {name!r} names no earlier {kind or 'event'}")
        return ref

    def key(self, label: Any) -> SigningKey:
        if label not in self.keys:
            raise BuildError(f"{label!r} is not a [keys.*] label")
        return self.keys[label]

    def public_line(self, label: str) -> str:
        """The key's OpenSSH line as its .pub file holds it."""
        self.key(label)
        path = Path(f"{key_path(self.keys_dir, label)}.pub")
        line = path.read_text(encoding="utf-8").removesuffix("\n")
        if parse_public_key(line) != self.keys[label].public:
            raise BuildError(f"{path.name} does not hold the public half of {label!r}")
        return line

    def body(self, kind: str, fields: dict[str, Any]) -> AnyBody:
        """The body of ``kind``, validated by its Struct's schema (patterns, enumerations)."""
        fields = {"salt": new_salt(self.rng), **fields}
        try:
            body: AnyBody = msgspec.convert(fields, BODY_TYPES[kind])  # type: ignore[assignment]
        except msgspec.ValidationError as exc:
            raise BuildError(f"invalid body: {exc}") from None
        return body

    def draft(self, ev: _Fields) -> Draft:
        kind = ev.get("kind")
        if kind == "key.granted":
            label = ev.get("key")
            info = self.doc["keys"].get(label, {})
            body = self.body(
                kind,
                {
                    "key": self.public_line(label),
                    "name": info.get("name"),
                    "role": info.get("role"),
                },
            )
            return Draft(kind, self.key(label).public.fingerprint, body)
        if kind == "key.revoked":
            void_after = ev.opt("void_after")
            body = self.body(
                kind,
                {
                    "reason": ev.get("reason"),
                    "void_after": None if void_after is None else self.ref(void_after).event_id,
                    "note": ev.get("note"),
                },
            )
            return Draft(kind, self.key(ev.get("key")).public.fingerprint, body)
        if kind == "source.registered":
            names = ("publisher", "url", "published", "archive_url", "content_sha256")
            fields = {name: ev.opt(name) for name in names}
            fields |= {
                "title": ev.get("title"),
                "kind": ev.get("source_kind"),
                "reliability": ev.get("reliability"),
            }
            body = self.body(kind, fields)
            return Draft(kind, new_id("src_", self.rng), body)
        if kind == "claim.asserted":
            appearance = ev.opt("appearance")
            if appearance is not None:
                appearance = dict(appearance)
                appearance["source"] = self.ref(appearance.get("source"), "source.registered")
                appearance["source"] = appearance["source"].subject
            fields = {
                "text": ev.get("text"),
                "kind": ev.get("claim_kind"),
                "claimant": ev.get("claimant"),
                "appearance": appearance,
                "topics": ev.get("topics"),
            }
            body = self.body(kind, fields)
            return Draft(kind, new_id("clm_", self.rng), body)
        if kind == "source.regraded":
            source = self.ref(ev.get("source"), "source.registered").subject
            body = self.body(
                kind, {"reliability": ev.get("reliability"), "reason": ev.get("reason")}
            )
            return Draft(kind, source, body)
        if kind == "note.added":
            claim, source = ev.opt("claim"), ev.opt("source")
            if (claim is None) == (source is None):
                raise BuildError("a note needs exactly one of claim/source")
            subject = (
                self.ref(claim, "claim.asserted").subject
                if claim is not None
                else self.ref(source, "source.registered").subject
            )
            reply = ev.opt("in_reply_to")
            in_reply_to = None if reply is None else self.ref(reply, "note.added").event_id
            body = self.body(kind, {"text": ev.get("text"), "in_reply_to": in_reply_to})
            return Draft(kind, subject, body)
        return self.claim_draft(kind, ev)

    def claim_draft(self, kind: str, ev: _Fields) -> Draft:
        """An event in a claim's stream."""
        claim = self.ref(ev.get("claim"), "claim.asserted").subject
        fields: dict[str, Any]
        if kind == "claim.corrected":
            fields = {name: ev.get(name) for name in ("text", "correction", "reason")}
        elif kind == "source.attributed":
            fields = {name: ev.opt(name) for name in ("quote", "locator", "retrieved")}
            fields |= {
                "source": self.ref(ev.get("source"), "source.registered").subject,
                "stance": ev.get("stance"),
                "credibility": ev.opt("credibility"),
            }
        elif kind == "attribution.withdrawn":
            source = self.ref(ev.get("source"), "source.registered").subject
            fields = {"source": source, "reason": ev.get("reason")}
        elif kind == "verdict.issued":
            fields = self.verdict(claim, ev)
        elif kind == "verdict.voided":
            _, last = self.ratings.get(claim, (None, None))
            self.ratings[claim] = (None, last)
            fields = {"reason": ev.get("reason")}
        elif kind == "claim.status":
            fields = {"status": ev.get("status"), "reason": ev.opt("reason")}
        else:
            raise BuildError(f"unknown kind {kind!r}")
        return Draft(kind, claim, self.body(kind, fields))

    def verdict(self, claim: str, ev: _Fields) -> dict[str, Any]:
        """The verdict's fields; ``changes_rating`` as ledger/rules.py defines it.

        A first verdict has revision null and changes_rating false; a later one
        changes the rating when it differs from the current (or, after a void, the
        last) rating. A stated ``changes_rating`` must agree.
        """
        rating = ev.get("rating")
        first = claim not in self.ratings
        current, last = self.ratings.get(claim, (None, None))
        changes = not first and rating != (current or last)
        stated = ev.opt("changes_rating")
        if stated is not None and stated != changes:
            was = "first verdict" if first else f"rating was {current or last!r}"
            raise BuildError(f"changes_rating = {stated} but should be {changes} ({was})")
        self.ratings[claim] = (rating, rating)
        return {
            "rating": rating,
            "rationale": ev.get("rationale"),
            "revision": ev.opt("revision"),
            "changes_rating": changes,
        }


def _clock(doc: dict[str, Any]) -> Callable[[], datetime]:
    """A fixed wall clock at the description's last time, so builds never depend on today."""
    last = max([doc["ledger"]["at"], *(ev.get("at", "") for ev in doc["events"])])
    when = parse_time(last)
    if when is None:
        raise BuildError(f"'at' {last!r} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
    return lambda: when


def build(dest: Path, *, description: Path = DESCRIPTION, keys_dir: Path = KEYS_DIR) -> Ledger:
    """Build the demo ledger into ``dest`` (absent or empty) and write its README."""
    with description.open("rb") as f:
        doc = tomllib.load(f)
    labels = list(doc["keys"])
    keys = load_keys(keys_dir, labels)
    builder = _Builder(doc, keys, keys_dir)
    now = _clock(doc)
    head = doc["ledger"]
    owner = head["owner"]
    try:
        ledger = Ledger.init(
            dest,
            origin=head["origin"],
            key=builder.key(owner),
            owner_name=doc["keys"][owner]["name"],
            description=head["description"],
            at=head["at"],
            now=now,
            rng=builder.rng,
        )
    except LedgerError as exc:
        raise BuildError(f"[ledger]: {exc.one_line()}") from None
    events: list[dict[str, Any]] = doc["events"]
    n = 0
    while n < len(events):
        if events[n]["kind"] == "entry.redacted":
            _redact(ledger, builder, n, events[n], now)
            n += 1
            continue
        with ledger.writer(now=now) as writer:
            while n < len(events) and events[n]["kind"] != "entry.redacted":
                ev = events[n]
                try:
                    fields = _Fields(ev)
                    draft = builder.draft(fields)
                    fields.check_all_used()
                    (done,) = writer.append([draft], builder.key(ev.get("by")), at=ev.get("at"))
                except (BuildError, LedgerError) as exc:
                    raise BuildError(f"{_where(n, ev)}: {_message(exc)}") from None
                _remember(builder, n, ev, Ref(draft.kind, draft.subject, done.id))
                n += 1
    (dest / "README.md").write_text(README, encoding="utf-8")
    return ledger


def _redact(
    ledger: Ledger, builder: _Builder, n: int, ev: dict[str, Any], now: Callable[[], datetime]
) -> None:
    try:
        fields = _Fields(ev)
        target = builder.ref(fields.get("target")).event_id
        reason = fields.get("reason")
        fields.check_all_used()
        done = ledger.redact(
            target, reason, builder.key(ev.get("by")), at=ev.get("at"), now=now, rng=builder.rng
        )
    except (BuildError, LedgerError) as exc:
        raise BuildError(f"{_where(n, ev)}: {_message(exc)}") from None
    _remember(builder, n, ev, Ref(done.entry.kind, done.entry.subject, done.id))


def _remember(builder: _Builder, n: int, ev: dict[str, Any], ref: Ref) -> None:
    if name := ev.get("ref"):
        if name in builder.refs:
            raise BuildError(f"{_where(n, ev)}: duplicate ref {name!r}")
        builder.refs[name] = ref


def _where(n: int, ev: dict[str, Any]) -> str:
    """Event N of the description is line N + 1 of events.jsonl (line 1 is the genesis)."""
    return (
        f"event {n + 1} (events.jsonl line {n + 2}, {ev.get('kind')} at {ev.get('at')} "
        f"by {ev.get('by')}{', ref ' + ev['ref'] if 'ref' in ev else ''})"
    )


def _message(exc: Exception) -> str:
    return exc.one_line() if isinstance(exc, LedgerError) else str(exc)


# --- command line ----------------------------------------------------------------------


def differences(built: Path, committed: Path) -> list[str]:
    """The FILES that differ between two ledger directories."""
    out = []
    for name in FILES:
        a, b = built / name, committed / name
        if not b.is_file():
            out.append(f"{name}: missing from {committed}")
        elif a.read_bytes() != b.read_bytes():
            out.append(f"{name}: differs from a fresh build")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare a fresh build with the committed ledger"
    )
    args = parser.parse_args(argv)
    with DESCRIPTION.open("rb") as f:
        labels = list(tomllib.load(f)["keys"])
    started = time.monotonic()
    try:
        if not args.check:
            for path in write_missing_keys(KEYS_DIR, labels):
                print(f"wrote demo key {path.relative_to(REPO)}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="factledger-fixtures-") as tmp:
            built = Path(tmp) / NAME
            build(built)
            if args.check:
                diffs = differences(built, OUT)
                for diff in diffs:
                    print(f"{OUT.relative_to(REPO)}/{diff}", file=sys.stderr)
                if diffs:
                    print("run: python scripts/make_fixtures.py", file=sys.stderr)
                    return 1
            else:
                OUT.mkdir(parents=True, exist_ok=True)
                for name in FILES:
                    shutil.copyfile(built / name, OUT / name)
            size = (built / "events.jsonl").read_bytes().count(b"\n")
    except BuildError as exc:
        print(f"error: {DESCRIPTION.name}: {exc}", file=sys.stderr)
        return 2
    verb = "matches" if args.check else "wrote"
    took = time.monotonic() - started
    print(f"{verb} {OUT.relative_to(REPO)}: {size} events ({took:.2f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
