"""Check the demo ledger description against the article it quotes and the signing rules.

Usage: python scripts/check_demo_quotes.py [DESCRIPTION.toml]

Checks that every quote occurs verbatim in the article (and in the paragraph its
`para N` locator names, counting non-empty lines) and is at most 25 words; that
`content_sha256` is the article's hash; that the fields of each event are those of
its kind (DESIGN §4); that refs are unique and name an earlier event of the right
kind; that `at` never decreases; and that each signer holds a granted, unrevoked
key whose role permits the event. Exit status: 0 ok, 1 findings, 2 missing input.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DESCRIPTION = REPO / "fixtures" / "demo" / "firstpost-2024-al-qaeda-taliban.toml"
ARTICLE = REPO / ".." / "shared" / "seeds" / "firstpost-2024-al-qaeda-taliban.txt"
MAX_QUOTE_WORDS = 25

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")
LABEL = re.compile(r"[a-z]+\Z")
PARA = re.compile(r"para (\d+)\Z")

REVIEWER = {
    "source.registered",
    "source.regraded",
    "claim.asserted",
    "claim.corrected",
    "source.attributed",
    "attribution.withdrawn",
    "note.added",
}
EDITOR = REVIEWER | {"verdict.issued", "verdict.voided", "claim.status"}
ADMIN = EDITOR | {"key.granted", "key.revoked", "entry.redacted"}
MAY_SIGN = {"reviewer": REVIEWER, "editor": EDITOR, "admin": ADMIN}

# kind -> (required, optional) fields besides at/by/kind/ref; body `kind` is spelled
# source_kind / claim_kind because `kind` is the event kind.
FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "key.granted": ({"key"}, set()),
    "key.revoked": ({"key", "reason", "note"}, {"void_after"}),
    "source.registered": (
        {"title", "source_kind", "reliability"},
        {"publisher", "url", "published", "archive_url", "content_sha256"},
    ),
    "source.regraded": ({"source", "reliability", "reason"}, set()),
    "claim.asserted": ({"text", "claim_kind", "claimant", "topics"}, {"appearance"}),
    "claim.corrected": ({"claim", "text", "correction", "reason"}, set()),
    "source.attributed": (
        {"claim", "source", "stance"},
        {"quote", "locator", "retrieved", "credibility"},
    ),
    "attribution.withdrawn": ({"claim", "source", "reason"}, set()),
    "verdict.issued": ({"claim", "rating", "rationale", "changes_rating"}, {"revision"}),
    "verdict.voided": ({"claim", "reason"}, set()),
    "claim.status": ({"claim", "status"}, {"reason"}),
    "note.added": ({"text"}, {"claim", "source", "in_reply_to"}),
    "entry.redacted": ({"target", "reason"}, set()),
}
# field holding a ref -> kind of event it must name (None: any event)
REF_KINDS = {
    "claim": "claim.asserted",
    "source": "source.registered",
    "in_reply_to": "note.added",
    "target": None,
    "void_after": None,
}
ENUMS = {
    "source_kind": {"article", "report", "interview", "dataset", "statement", "anonymous", "other"},
    "reliability": set("ABCDEF"),
    "claim_kind": {"factual", "opinion", "prediction"},
    "correction": {"typo", "clarification", "substantive"},
    "stance": {"supports", "disputes", "context"},
    "rating": {"true", "mostly-true", "half-true", "mostly-false", "false", "unproven"},
    "revision": {"correction", "update"},
    "status": {"open", "in_review", "published", "retracted"},
    "credibility": set(range(1, 7)),
}


def check(doc: dict[str, Any], article: bytes) -> list[str]:
    text = article.decode("utf-8")
    paras = [line for line in text.splitlines() if line.strip()]
    digest = hashlib.sha256(article).hexdigest()
    errors: list[str] = []
    ledger, keys = doc["ledger"], doc["keys"]
    owner = ledger["owner"]

    for label, key in keys.items():
        if not LABEL.match(label):
            errors.append(f"keys.{label}: label must be lowercase a-z")
        if (label == owner) != ("role" not in key) or key.get("role", "admin") not in MAY_SIGN:
            errors.append(f"keys.{label}: the owner has no role, every other key a valid one")

    def check_quote(where: str, quote: str, locator: str | None) -> None:
        if quote not in text:
            errors.append(f"{where}: quote not verbatim in the article: {quote!r}")
        if len(quote.split()) > MAX_QUOTE_WORDS:
            errors.append(f"{where}: quote longer than {MAX_QUOTE_WORDS} words")
        m = PARA.match(locator or "")
        if m and not (0 < int(m[1]) <= len(paras) and quote in paras[int(m[1]) - 1]):
            errors.append(f"{where}: quote is not in {locator}")

    refs: dict[str, str] = {}
    roles = {owner: "admin"}
    revoked: set[str] = set()
    verdicts: dict[str, str] = {}  # claim ref -> current rating
    attributions: set[tuple[str, str]] = set()
    last_at = ledger["at"]
    for n, ev in enumerate(doc["events"], 1):
        kind, by, where = ev.get("kind"), ev.get("by"), f"event {n} ({ev.get('kind')})"
        at = ev.get("at", "")
        if not TIME.match(at) or at < last_at:
            errors.append(f"{where}: at {at!r} is malformed or earlier than {last_at}")
        last_at = max(last_at, at)
        if kind not in FIELDS:
            errors.append(f"{where}: unknown kind")
            continue
        if by in revoked or by not in roles:
            errors.append(f"{where}: signer {by!r} is not a granted, unrevoked key")
        elif kind not in MAY_SIGN[roles[by]]:
            errors.append(f"{where}: a {roles[by]} may not sign {kind}")
        required, optional = FIELDS[kind]
        body = {k: v for k, v in ev.items() if k not in {"at", "by", "kind", "ref"}}
        if missing := required - body.keys():
            errors.append(f"{where}: missing {sorted(missing)}")
        if extra := body.keys() - required - optional:
            errors.append(f"{where}: unexpected {sorted(extra)}")
        if kind == "note.added" and ("claim" in body) == ("source" in body):
            errors.append(f"{where}: a note needs exactly one of claim/source")
        for field, value in body.items():
            if field in ENUMS and value not in ENUMS[field]:
                errors.append(f"{where}: {field} = {value!r} is not allowed")
            if field in {"published", "retrieved"} and not DATE.match(value):
                errors.append(f"{where}: {field} must be YYYY-MM-DD")
            want = REF_KINDS.get(field, "")
            if want != "" and (value not in refs or (want and refs[value] != want)):
                errors.append(f"{where}: {field} = {value!r} names no earlier {want or 'event'}")
        if "content_sha256" in body and body["content_sha256"] != digest:
            errors.append(f"{where}: content_sha256 is not the article's hash {digest}")
        if "quote" in body:
            check_quote(where, body["quote"], body.get("locator"))
        if app := body.get("appearance"):
            check_quote(where, app["quote"], app.get("locator"))
            if refs.get(app["source"]) != "source.registered":
                errors.append(f"{where}: appearance source {app['source']!r} is not a source")

        claim, source = body.get("claim"), body.get("source")
        if kind == "key.granted":
            label = body["key"]
            if label not in keys or label in roles or label in revoked:
                errors.append(f"{where}: {label!r} is unknown or was already granted")
            else:
                roles[label] = keys[label]["role"]
        elif kind == "key.revoked":
            if body["key"] not in roles or body["reason"] not in {"retired", "compromised"}:
                errors.append(f"{where}: revokes a key that is not active, or bad reason")
            revoked.add(body["key"])
            roles.pop(body["key"], None)
        elif kind == "source.attributed":
            if (claim, source) in attributions:
                errors.append(f"{where}: {source} is already attributed to {claim}")
            attributions.add((claim, source))
        elif kind == "attribution.withdrawn":
            if (claim, source) not in attributions:
                errors.append(f"{where}: {source} is not attributed to {claim}")
            attributions.discard((claim, source))
        elif kind == "verdict.issued":
            current = verdicts.get(claim)
            if ("revision" in body) != (current is not None):
                errors.append(f"{where}: revision must be set exactly when revising a verdict")
            if body["changes_rating"] != (current is not None and current != body["rating"]):
                errors.append(f"{where}: changes_rating does not match the rating change")
            verdicts[claim] = body["rating"]
        elif kind == "verdict.voided" and verdicts.pop(claim, None) is None:
            errors.append(f"{where}: no current verdict to void")

        if ref := ev.get("ref"):
            if ref in refs:
                errors.append(f"{where}: duplicate ref {ref!r}")
            refs[ref] = kind
    return errors


def main(argv: list[str]) -> int:
    description = Path(argv[1]) if len(argv) > 1 else DESCRIPTION
    if not ARTICLE.is_file():
        where = ARTICLE.resolve()
        print(f"error: article not found at {where}; put it in ../shared/seeds/", file=sys.stderr)
        return 2
    with description.open("rb") as f:
        doc = tomllib.load(f)
    errors = check(doc, ARTICLE.read_bytes())
    for error in errors:
        print(f"{description.name}: {error}", file=sys.stderr)
    if errors:
        return 1
    kinds = [ev["kind"] for ev in doc["events"]]
    print(
        f"ok: {len(kinds) + 1} events (incl. ledger.created), "
        f"{kinds.count('claim.asserted')} claims, {kinds.count('source.registered')} sources, "
        f"{kinds.count('verdict.issued')} verdicts, {len(doc['keys'])} keys"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
