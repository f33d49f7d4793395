"""Verbs that set a ledger up and keep it sound: init, key new|grant|revoke, redact, repair."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from ledger.cli.context import Context
from ledger.cli.options import nonempty, path, person_name, signing_parser, timestamp
from ledger.cli.output import print_appended
from ledger.errors import BadKey, StorageError, UsageError
from ledger.events import KeyGrantedBody, KeyRevokedBody
from ledger.ids import resolve
from ledger.keys import PublicKey, SigningKey, parse_public_key, save_signing_key
from ledger.ledger import Draft, Ledger, Snapshot, new_salt
from ledger.trust import is_test_key

Sub = Any  # argparse's _SubParsersAction is private; typed loosely on purpose


def register(sub: Sub, parents: list[argparse.ArgumentParser]) -> None:
    sign = [*parents, signing_parser()]

    p = sub.add_parser(
        "init",
        help="create a ledger in DIR, owned by KEYFILE",
        description="Create a ledger: ledger.toml (origin, pinned trust root), the signed "
        "genesis entry and a checkpoint. KEYFILE's key becomes the owner and first admin.",
    )
    p.add_argument("dir", metavar="DIR", type=path)
    p.add_argument(
        "--origin", required=True, type=nonempty, help="the ledger's name, e.g. example.org/claims"
    )
    p.add_argument(
        "--key", required=True, metavar="KEYFILE", type=path, help="the owner's private key"
    )
    p.add_argument("--description", default="", help="one line saying what the ledger holds")
    p.add_argument(
        "--owner-name",
        type=person_name,
        help="the owner's display name (default: the key's comment)",
    )
    p.add_argument("--at", type=timestamp, metavar="TIME", help="genesis time (default: now)")
    p.add_argument(
        "--unsafe-allow-test-keys",
        action="store_true",
        help="accept a published demo/test key, which anyone can sign with (tests only)",
    )
    p.set_defaults(func=cmd_init)

    keys = sub.add_parser("key", help="create, grant and revoke signing keys").add_subparsers(
        dest="key_command", metavar="VERB", required=True
    )
    p = keys.add_parser(
        "new",
        help="write a new Ed25519 key to PATH (0600) and PATH.pub",
        description="Write a new Ed25519 private key to PATH (OpenSSH format, mode 0600) and "
        "its public key to PATH.pub. With $FACTLEDGER_PASSPHRASE set, or --encrypt, the key "
        "is encrypted. Prints the key's fingerprint.",
    )
    p.add_argument("path", metavar="PATH", type=path)
    p.add_argument("--comment", default="", help="a comment stored in PATH.pub, e.g. an email")
    p.add_argument("--encrypt", action="store_true", help="ask for a passphrase to encrypt it")
    p.set_defaults(func=cmd_key_new)

    p = keys.add_parser(
        "pub",
        help="print a private key's public key, as the line 'key grant' takes",
        description="Print the OpenSSH public key line (ssh-ed25519 AAAA… comment) of KEYFILE, "
        "an OpenSSH or PKCS#8 Ed25519 private key, encrypted or not. Send it to an admin, "
        "who grants it with 'factledger key grant'.",
    )
    p.add_argument("keyfile", metavar="KEYFILE", type=path)
    p.set_defaults(func=cmd_key_pub)

    p = keys.add_parser(
        "grant",
        parents=sign,
        help="admit a public key with a role (admin only)",
        description="Admit PUBKEY (an OpenSSH public key line, a .pub file, or a PEM public "
        "key file from 'openssl pkey -pubout') to sign "
        "entries with ROLE: reviewer (claims, sources, attributions, notes), editor (also "
        "verdicts and status) or admin (also keys and redactions).",
    )
    p.add_argument("pubkey", metavar="PUBKEY", type=nonempty)
    p.add_argument("--name", required=True, type=person_name, help="the person's display name")
    p.add_argument("--role", required=True, choices=["admin", "editor", "reviewer"])
    p.add_argument(
        "--unsafe-allow-test-keys",
        action="store_true",
        help="accept a published demo/test key, which anyone can sign with (tests only)",
    )
    p.set_defaults(func=cmd_key_grant)

    p = keys.add_parser(
        "revoke",
        parents=sign,
        help="withdraw a key's authority (admin only)",
        description="Revoke a key. 'retired': it signs nothing from now on. 'compromised': "
        "also void its entries after --void-after EVENT (all of them if omitted). "
        "The last admin key cannot be revoked: grant another admin key first. A key is "
        "revoked as compromised with another admin's key, never its own.",
    )
    p.add_argument("fingerprint", metavar="FINGERPRINT", help="fingerprint (or prefix) or name")
    p.add_argument("--reason", required=True, choices=["retired", "compromised"])
    p.add_argument("--void-after", metavar="EVENT", help="last trusted entry of a compromised key")
    p.add_argument("--note", default="", help="why, for the record")
    p.set_defaults(func=cmd_key_revoke)

    p = sub.add_parser(
        "redact",
        parents=sign,
        help="remove an entry's body, keeping its signature (admin only)",
        description="Append entry.redacted and rewrite EVENT's line to its header form: "
        "the body is gone, while every signature, id, proof and checkpoint stays valid.",
    )
    p.add_argument("event", metavar="EVENT", help="event id or unique prefix")
    p.add_argument("--reason", required=True, type=nonempty, help="why, for the record")
    p.set_defaults(func=cmd_redact)

    p = sub.add_parser(
        "repair",
        parents=parents,
        help="recover from a crash mid-write: torn tail, stale checkpoint",
        description="If the log ends in a partial line (a torn write), move that tail into "
        "a backup file beside the log. Complete entries are never dropped; a complete entry "
        "that lost only its newline gets it back. With --key, also re-sign a checkpoint "
        "that a crash left behind the log (only if the log extends it; else exit 1).",
    )
    p.add_argument(
        "--key", metavar="FILE", type=path, help="a ledger key, to re-sign a stale checkpoint"
    )
    p.set_defaults(func=cmd_repair)


def _read_passphrase(confirm: bool) -> bytes | None:
    env = os.environ.get("FACTLEDGER_PASSPHRASE")
    if env is not None:
        if not env:
            raise UsageError(
                "FACTLEDGER_PASSPHRASE is set but empty: the key would be written unencrypted",
                hint="set a passphrase, or unset FACTLEDGER_PASSPHRASE (and leave out "
                "--encrypt) for an unencrypted key",
            )
        return env.encode()
    if not confirm:
        return None
    if not sys.stdin.isatty():
        raise UsageError("--encrypt needs a terminal, or set FACTLEDGER_PASSPHRASE")
    first = getpass.getpass("new passphrase: ")
    if not first:
        raise UsageError(
            "an empty passphrase would leave the key unencrypted",
            hint="type a passphrase, or leave out --encrypt for an unencrypted key",
        )
    if first != getpass.getpass("again: "):
        raise UsageError("the passphrases differ")
    return first.encode()


def cmd_key_new(ctx: Context, args: argparse.Namespace) -> int:
    key = SigningKey.generate(comment=args.comment)
    save_signing_key(key, args.path, _read_passphrase(args.encrypt))
    ctx.emit(key.public.fingerprint)
    ctx.info(f"wrote {args.path} (private, 0600) and {args.path}.pub")
    return 0


def _refuse_test_key(fingerprint: str, args: argparse.Namespace, what: str) -> None:
    if is_test_key(fingerprint) and not args.unsafe_allow_test_keys:
        raise UsageError(
            f"{fingerprint} is a published demo/test key, which anyone can sign with: "
            f"it cannot be {what}",
            hint="use a key of your own ('factledger key new'); in a test, pass "
            "--unsafe-allow-test-keys",
        )


def cmd_init(ctx: Context, args: argparse.Namespace) -> int:
    key = ctx.key()
    _refuse_test_key(key.public.fingerprint, args, "a ledger's owner")
    ledger = Ledger.init(
        args.dir,
        origin=args.origin,
        key=key,
        owner_name=args.owner_name or key.public.comment or "owner",
        description=args.description,
        at=args.at,
    )
    snap = ledger.load()
    ctx.emit(snap.state.heads["ledger"])
    ctx.info(f"created ledger {args.origin} in {args.dir}")
    ctx.info(f"trust root (pin it in CI): {ledger.config.trust_root}")
    return 0


def _public_key_arg(text: str) -> str:
    """PUBKEY's OpenSSH line: the content of the file it names, or the argument itself."""
    file = Path(text)
    if not file.is_file() and (text.lstrip().startswith("ssh-") or " " in text.strip()):
        return text.strip()  # a key line (parse_public_key names what is wrong with it)
    try:
        return _openssh_line(file.read_text(encoding="utf-8").strip(), file)
    except FileNotFoundError:
        raise StorageError(
            f"{file}: no such file",
            hint="PUBKEY is a .pub file, or one OpenSSH line 'ssh-ed25519 AAAA… comment'",
        ) from None
    except UnicodeDecodeError:
        raise BadKey(
            f"{file} is not a public key (not UTF-8 text)",
            hint="PUBKEY is a .pub file, or one OpenSSH line 'ssh-ed25519 AAAA… comment'",
        ) from None
    except OSError as exc:
        raise StorageError(f"could not read it: {exc.strerror}", path=str(file)) from None


def _openssh_line(text: str, file: Path) -> str:
    """A PEM public key (``openssl pkey -pubout``) as its OpenSSH line; other text as it is."""
    if text.startswith("-----BEGIN PUBLIC KEY-----"):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            loaded = load_pem_public_key(text.encode())
        except ValueError:
            raise BadKey(f"{file} is not a readable PEM public key") from None
        if not isinstance(loaded, Ed25519PublicKey):
            raise BadKey(f"{file} holds a public key of another type; factledger uses Ed25519")
        return PublicKey(loaded.public_bytes_raw()).openssh_line()
    if text.startswith("-----BEGIN") and "PRIVATE KEY-----" in text.partition("\n")[0]:
        raise BadKey(
            f"{file} is a private key: grant its public key, which the key's holder gets with "
            f"'factledger key pub {file.name}'",
            hint="never hand a private key to an admin",
        )
    return text


def cmd_key_pub(ctx: Context, args: argparse.Namespace) -> int:
    """Print the OpenSSH public key line of a private key, whatever its format."""
    ctx.args.key = str(args.keyfile)
    ctx.emit(ctx.key().public.openssh_line())
    return 0


def cmd_key_grant(ctx: Context, args: argparse.Namespace) -> int:
    public = parse_public_key(_public_key_arg(args.pubkey))
    _refuse_test_key(public.fingerprint, args, "granted")

    def build(snap: Snapshot) -> list[Draft]:
        if args.role != "admin":
            _keep_an_admin(snap, public.fingerprint, f"giving it the role {args.role}")
        body = KeyGrantedBody(
            salt=new_salt(os.urandom), key=public.openssh_line(), name=args.name, role=args.role
        )
        return [Draft("key.granted", public.fingerprint, body)]

    print_appended(ctx, ctx.append(build, args.at))
    return 0


def _keep_an_admin(snap: Snapshot, fingerprint: str, change: str) -> None:
    """Refuse a change that leaves no current admin key: no key could be granted again."""
    current = [fp for fp, k in snap.state.keys.items() if k.role == "admin" and k.revoked is None]
    if current == [fingerprint]:
        raise UsageError(
            f"{change} would leave the ledger with no admin key: no key could ever be granted "
            "again",
            hint="grant another admin key first ('factledger key grant --role admin'), "
            "then change this one with it",
        )


def _key_fingerprint(snap: Snapshot, text: str) -> str:
    """The key ``text`` names: by its display name or its fingerprint (or a unique
    prefix of it, with or without ``SHA256:``). Text that could mean two keys, as a name
    of one and a fingerprint prefix of another, is refused rather than one chosen."""
    keys = snap.state.keys
    prefix = text if text.startswith("SHA256:") else f"SHA256:{text}"
    if prefix in keys:  # a whole fingerprint names its key, whatever a name says
        return prefix
    by_name = sorted(fp for fp, k in keys.items() if k.name == text)
    by_print = sorted(fp for fp in keys if fp.startswith(prefix))
    found = sorted({*by_name, *by_print})
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(
            f"no key is named {text!r} or has a fingerprint starting with it",
            hint="list the keys with 'factledger query \"SELECT name, fingerprint FROM keys_now\"'",
        )
    shown = ", ".join(f"{keys[fp].name} ({fp})" for fp in found[:5])
    raise UsageError(
        f"{text!r} could mean {len(found)} keys: {shown}",
        hint="give the whole fingerprint",
    )


def cmd_key_revoke(ctx: Context, args: argparse.Namespace) -> int:
    def build(snap: Snapshot) -> list[Draft]:
        fingerprint = _key_fingerprint(snap, args.fingerprint)
        _keep_an_admin(snap, fingerprint, f"revoking {snap.state.keys[fingerprint].name}'s key")
        void_after = None
        if args.void_after is not None:  # an empty one is refused, not read as 'all'
            void_after = resolve(args.void_after, snap.state.events, "event")
        body = KeyRevokedBody(
            salt=new_salt(os.urandom), reason=args.reason, void_after=void_after, note=args.note
        )
        return [Draft("key.revoked", fingerprint, body)]

    print_appended(ctx, ctx.append(build, args.at))
    return 0


def cmd_redact(ctx: Context, args: argparse.Namespace) -> int:
    ledger = ctx.ledger()
    target = resolve(args.event, ledger.load().state.events, "event")
    done = ledger.redact(target, args.reason, ctx.key(), at=args.at, on_wait=ctx.waiting)
    print_appended(ctx, [done])
    return 0


def cmd_repair(ctx: Context, args: argparse.Namespace) -> int:
    ledger = ctx.ledger()
    before = ledger.events_path.stat().st_size if ledger.events_path.exists() else 0
    backup = ledger.repair(on_wait=ctx.waiting)
    if backup is not None:
        ctx.info(f"moved the torn tail to {backup}")
    elif ledger.events_path.stat().st_size != before:
        ctx.info("restored the newline of a complete last entry")
    else:
        ctx.info("the log ends in a whole line")
    wants_key = bool(args.key or os.environ.get("FACTLEDGER_KEY"))
    if wants_key and ledger.resign_checkpoint(ctx.key(), on_wait=ctx.waiting):
        ctx.info("re-signed the checkpoint a crash had left behind the log")
    ctx.info("run 'factledger verify' next")
    return 0
