"""Verbs that record fact-checking work: ``source ...`` and ``claim ...``.

Each builds its entry from the log as it is under the writer's lock, so ids typed
as prefixes and the parent (the subject's head) are resolved against what is
actually written.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, get_args

from ledger.cli.context import Context
from ledger.cli.options import (
    Parser,
    credibility,
    date,
    nonempty,
    sha256_hex,
    signing_parser,
    web_url,
)
from ledger.cli.output import print_appended
from ledger.errors import UsageError
from ledger.events import (
    AnyBody,
    Appearance,
    AttributionWithdrawnBody,
    ClaimAssertedBody,
    ClaimCorrectedBody,
    ClaimStatusBody,
    NoteAddedBody,
    SourceAttributedBody,
    SourceKind,
    SourceRegisteredBody,
    SourceRegradedBody,
    VerdictIssuedBody,
    VerdictVoidedBody,
)
from ledger.ids import resolve
from ledger.ledger import Draft, Snapshot, new_id, new_salt

Sub = Any
SOURCE_KINDS = get_args(SourceKind)


def _salt() -> str:
    return new_salt(os.urandom)


Parents = list[argparse.ArgumentParser]


def _expect_parser() -> argparse.ArgumentParser:
    expect = Parser(add_help=False)
    expect.add_argument(
        "--parent",
        metavar="EVENT",
        help="the head you expect the claim/source to have; refused if it moved (for scripts)",
    )
    return expect


def _source_add(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("add", parents=sign, help="register a source; prints its src_ id")
    p.add_argument("--title", required=True, type=nonempty)
    p.add_argument("--kind", required=True, choices=SOURCE_KINDS)
    p.add_argument("--publisher")
    p.add_argument("--url", type=web_url, help="where the source is published (http or https)")
    p.add_argument("--published", type=date, metavar="DATE")
    p.add_argument(
        "--reliability",
        default="F",
        choices=list("ABCDEF"),
        help="Admiralty grade: A reliable … E unreliable, F cannot be judged (default F)",
    )
    p.add_argument("--archive-url", type=web_url, help="an archived copy (http or https)")
    p.add_argument(
        "--content-sha256", metavar="HEX", type=sha256_hex, help="SHA-256 of the archived copy"
    )
    p.set_defaults(func=cmd_source_add)


def _source_regrade(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("regrade", parents=sign_expect, help="change a source's grade")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--reliability", required=True, choices=list("ABCDEF"))
    p.add_argument("--reason", required=True, type=nonempty)
    p.set_defaults(func=cmd_source_regrade)


def _source_note(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("note", parents=sign_expect, help="comment on a source")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("text", metavar="TEXT", type=nonempty)
    p.add_argument("--reply-to", metavar="EVENT")
    p.set_defaults(func=cmd_note, target="source")


def _claim_add(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("add", parents=sign, help="record a claim; prints its clm_ id")
    p.add_argument("text", metavar="TEXT", type=nonempty)
    p.add_argument("--claimant", default="unknown", help="who made the claim")
    p.add_argument("--kind", default="factual", choices=["factual", "opinion", "prediction"])
    p.add_argument("--appears-in", metavar="SOURCE", help="the source where the claim was made")
    p.add_argument("--quote", help="a short verbatim fragment (with --appears-in)")
    p.add_argument("--locator", help="where in the source, e.g. 'para 4' (with --appears-in)")
    p.add_argument(
        "--topic", action="append", default=[], type=nonempty, help="a topic (repeatable)"
    )
    p.set_defaults(func=cmd_claim_add)


def _claim_correct(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("correct", parents=sign_expect, help="record a corrected wording")
    p.add_argument("claim", metavar="CLAIM")
    p.add_argument("text", metavar="TEXT", type=nonempty)
    p.add_argument("--kind", required=True, choices=["typo", "clarification", "substantive"])
    p.add_argument("--reason", required=True, type=nonempty)
    p.set_defaults(func=cmd_claim_correct)


def _claim_attribute(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("attribute", parents=sign_expect, help="link a source to a claim")
    p.add_argument("claim", metavar="CLAIM")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--stance", required=True, choices=["supports", "disputes", "context"])
    p.add_argument("--quote")
    p.add_argument("--locator")
    p.add_argument("--retrieved", type=date, metavar="DATE")
    p.add_argument("--credibility", type=credibility, help="Admiralty 1 confirmed … 6 unknown")
    p.set_defaults(func=cmd_claim_attribute)


def _claim_withdraw(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("withdraw-attribution", parents=sign_expect, help="unlink a source")
    p.add_argument("claim", metavar="CLAIM")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--reason", required=True, type=nonempty)
    p.set_defaults(func=cmd_claim_withdraw)


def _claim_verdict(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("verdict", parents=sign_expect, help="rate a claim (editor)")
    p.add_argument("claim", metavar="CLAIM")
    p.add_argument("rating", metavar="RATING", help="a name on the ledger's scale, e.g. false")
    p.add_argument("--rationale", required=True, type=nonempty)
    p.add_argument(
        "--revision",
        choices=["correction", "update"],
        help="for a later verdict: a correction (the earlier one was wrong) or an update "
        "(new information)",
    )
    p.set_defaults(func=cmd_claim_verdict)


def _claim_void(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("void-verdict", parents=sign_expect, help="withdraw the verdict")
    p.add_argument("claim", metavar="CLAIM")
    p.add_argument("--reason", required=True, type=nonempty)
    p.set_defaults(func=cmd_claim_void)


def _claim_status(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("status", parents=sign_expect, help="set the review status (editor)")
    p.add_argument("claim", metavar="CLAIM")
    p.add_argument("status", choices=["open", "in_review", "published", "retracted"])
    p.add_argument("--reason")
    p.set_defaults(func=cmd_claim_status)


def _claim_note(verbs: Sub, sign: Parents, sign_expect: Parents) -> None:
    p = verbs.add_parser("note", parents=sign_expect, help="comment on a claim")
    p.add_argument("claim", metavar="CLAIM")
    p.add_argument("text", metavar="TEXT", type=nonempty)
    p.add_argument("--reply-to", metavar="EVENT")
    p.set_defaults(func=cmd_note, target="claim")


_Verb = Callable[[Sub, Parents, Parents], None]
NOUNS: dict[str, tuple[str, dict[str, _Verb]]] = {
    "source": (
        "register and regrade sources",
        {"add": _source_add, "regrade": _source_regrade, "note": _source_note},
    ),
    "claim": (
        "record claims, sources, verdicts",
        {
            "add": _claim_add,
            "correct": _claim_correct,
            "attribute": _claim_attribute,
            "withdraw-attribution": _claim_withdraw,
            "verdict": _claim_verdict,
            "void-verdict": _claim_void,
            "status": _claim_status,
            "note": _claim_note,
        },
    ),
}
"""Each command of this group, its help, and its verbs in help order."""


def register(sub: Sub, parents: Parents) -> None:
    _register(sub, parents, NOUNS)


def register_only(sub: Sub, parents: Parents, command: str, verb: str) -> bool:
    """Register ``command verb`` alone (a single write starts faster); False if unknown."""
    help_text, verbs = NOUNS.get(command, ("", {}))
    if verb not in verbs:
        return False
    _register(sub, parents, {command: (help_text, {verb: verbs[verb]})})
    return True


def _register(sub: Sub, parents: Parents, nouns: dict[str, tuple[str, dict[str, _Verb]]]) -> None:
    sign = [*parents, signing_parser()]
    sign_expect = [*sign, _expect_parser()]
    for noun, (help_text, verbs) in nouns.items():
        group = sub.add_parser(noun, help=help_text).add_subparsers(
            dest=f"{noun}_command", metavar="VERB", required=True
        )
        for add in verbs.values():
            add(group, sign, sign_expect)


def _append(
    ctx: Context,
    args: argparse.Namespace,
    build: Callable[[Snapshot], Draft],
    *,
    show_subject: bool = False,
) -> int:
    def drafts(snap: Snapshot) -> list[Draft]:
        draft = build(snap)
        expected = getattr(args, "parent", None)
        if expected is not None:
            parent = resolve(expected, snap.state.events, "event")
            draft = Draft(draft.kind, draft.subject, draft.body, parent, expect_parent=True)
        return [draft]

    done = ctx.append(drafts, args.at)
    print_appended(ctx, done, show_subject=show_subject)
    return 0


def _claim(snap: Snapshot, text: str) -> str:
    return resolve(text, snap.state.claims, "claim")


def _source(snap: Snapshot, text: str) -> str:
    return resolve(text, snap.state.sources, "source")


def cmd_source_add(ctx: Context, args: argparse.Namespace) -> int:
    def build(snap: Snapshot) -> Draft:
        subject = new_id("src_", os.urandom)
        body = SourceRegisteredBody(
            salt=_salt(),
            title=args.title,
            kind=args.kind,
            publisher=args.publisher,
            url=args.url,
            published=args.published,
            reliability=args.reliability,
            archive_url=args.archive_url,
            content_sha256=args.content_sha256,
        )
        return Draft("source.registered", subject, body)

    return _append(ctx, args, build, show_subject=True)


def cmd_source_regrade(ctx: Context, args: argparse.Namespace) -> int:
    def build(snap: Snapshot) -> Draft:
        body = SourceRegradedBody(salt=_salt(), reliability=args.reliability, reason=args.reason)
        return Draft("source.regraded", _source(snap, args.source), body)

    return _append(ctx, args, build)


def cmd_note(ctx: Context, args: argparse.Namespace) -> int:
    def build(snap: Snapshot) -> Draft:
        by_claim = args.target == "claim"
        subject = _claim(snap, args.claim) if by_claim else _source(snap, args.source)
        reply = None
        if args.reply_to is not None:  # an empty one is refused, not read as "no reply"
            reply = resolve(args.reply_to, snap.state.events, "event")
        body = NoteAddedBody(salt=_salt(), text=args.text, in_reply_to=reply)
        return Draft("note.added", subject, body)

    return _append(ctx, args, build)


def cmd_claim_add(ctx: Context, args: argparse.Namespace) -> int:
    given = [args.quote is not None, args.locator is not None]
    if any(given) and args.appears_in is None:
        raise UsageError("--quote and --locator describe --appears-in SOURCE; pass it too")
    twice = sorted({t for t in args.topic if args.topic.count(t) > 1})
    if twice:
        raise UsageError(f"--topic {twice[0]!r} is given twice", hint="give each topic once")

    def build(snap: Snapshot) -> Draft:
        appearance = None
        if args.appears_in is not None:
            appearance = Appearance(
                source=_source(snap, args.appears_in),
                quote=args.quote or "",
                locator=args.locator or "",
            )
        body = ClaimAssertedBody(
            salt=_salt(),
            text=args.text,
            kind=args.kind,
            claimant=args.claimant,
            appearance=appearance,
            topics=list(args.topic),
        )
        return Draft("claim.asserted", new_id("clm_", os.urandom), body)

    return _append(ctx, args, build, show_subject=True)


def _claim_draft(kind: str, make: Callable[[Snapshot, str], AnyBody]) -> Callable[..., int]:
    def command(ctx: Context, args: argparse.Namespace) -> int:
        def build(snap: Snapshot) -> Draft:
            claim = _claim(snap, args.claim)
            return Draft(kind, claim, make(snap, claim))

        return _append(ctx, args, build)

    return command


def _verdict_body(args: argparse.Namespace) -> Callable[[Snapshot, str], AnyBody]:
    def make(snap: Snapshot, claim: str) -> AnyBody:
        state = snap.state.claims[claim]
        if args.rating not in snap.state.scale:
            raise UsageError(
                f"{args.rating!r} is not on this ledger's scale",
                hint=f"use one of: {', '.join(sorted(snap.state.scale))}",
            )
        if state.verdicts and args.revision is None:
            raise UsageError(
                f"{claim} {'has' if state.rating is not None else 'had'} a verdict already; "
                "say whether this one is a correction or an update",
                hint="pass --revision correction|update",
            )
        if not state.verdicts and args.revision is not None:
            raise UsageError("--revision is for a later verdict; this is the first")
        previous = state.rating or state.last_rating
        return VerdictIssuedBody(
            salt=_salt(),
            rating=args.rating,
            rationale=args.rationale,
            revision=args.revision,
            changes_rating=bool(state.verdicts) and args.rating != previous,
        )

    return make


def cmd_claim_correct(ctx: Context, args: argparse.Namespace) -> int:
    def body(snap: Snapshot, claim: str) -> AnyBody:
        return ClaimCorrectedBody(
            salt=_salt(), text=args.text, correction=args.kind, reason=args.reason
        )

    return _claim_draft("claim.corrected", body)(ctx, args)


def cmd_claim_attribute(ctx: Context, args: argparse.Namespace) -> int:
    def body(snap: Snapshot, claim: str) -> AnyBody:
        return SourceAttributedBody(
            salt=_salt(),
            source=_source(snap, args.source),
            stance=args.stance,
            quote=args.quote,
            locator=args.locator,
            retrieved=args.retrieved,
            credibility=args.credibility,
        )

    return _claim_draft("source.attributed", body)(ctx, args)


def cmd_claim_withdraw(ctx: Context, args: argparse.Namespace) -> int:
    def body(snap: Snapshot, claim: str) -> AnyBody:
        return AttributionWithdrawnBody(
            salt=_salt(), source=_source(snap, args.source), reason=args.reason
        )

    return _claim_draft("attribution.withdrawn", body)(ctx, args)


def cmd_claim_verdict(ctx: Context, args: argparse.Namespace) -> int:
    return _claim_draft("verdict.issued", _verdict_body(args))(ctx, args)


def cmd_claim_void(ctx: Context, args: argparse.Namespace) -> int:
    def body(snap: Snapshot, claim: str) -> AnyBody:
        return VerdictVoidedBody(salt=_salt(), reason=args.reason)

    return _claim_draft("verdict.voided", body)(ctx, args)


def cmd_claim_status(ctx: Context, args: argparse.Namespace) -> int:
    def body(snap: Snapshot, claim: str) -> AnyBody:
        return ClaimStatusBody(salt=_salt(), status=args.status, reason=args.reason)

    return _claim_draft("claim.status", body)(ctx, args)
