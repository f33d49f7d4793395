"""A private key given where its file's name (or any text) belongs is never printed.

Storing the key itself in ``FACTLEDGER_KEY`` (``"$(cat key)"``) is an easy CI
mistake, and many errors quote what was typed: "key file … not found", "no claim
matches …". Each case here printed the whole key before.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_ssh_private_key,
)

from ledger.text import KEY_NOT_SHOWN, hide_private_keys, holds_private_key
from tests.cli.support import Keys, Result, Run, files, log_json

pytestmark = pytest.mark.usefixtures("isolated")


def secrets_of(key_file: Path) -> dict[str, str]:
    """The key as its OpenSSH file holds it, as PKCS#8 PEM, and each one's base64 alone."""
    openssh = key_file.read_text().strip()  # as "$(cat KEY)" gives it
    private = load_ssh_private_key(openssh.encode(), None)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode().strip()
    der = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return {
        "openssh": openssh,
        "pkcs8": pem,
        "openssh body": "".join(openssh.splitlines()[1:-1]),
        "pkcs8 base64": base64.b64encode(der).decode(),
    }


def assert_not_shown(result: Result, secret: str) -> None:
    body = "".join(secret.strip().splitlines()[1:-1]) or secret
    printed = result.out + result.err
    assert "Traceback" not in printed
    for piece in (body[i : i + 16] for i in range(0, len(body) - 16, 8)):
        assert piece not in printed, (piece, printed)


@pytest.mark.parametrize(
    "form", ["openssh", "pkcs8", "openssh body", "pkcs8 base64"]
)  # fmt: skip
def test_the_text_of_every_form_of_private_key_is_recognised_and_hidden(
    keys: Keys, form: str
) -> None:
    secret = secrets_of(keys.reviewer)[form]
    message = f"key file {secret} not found; check the path"
    assert holds_private_key(message)
    hidden = hide_private_keys(message)
    assert hidden == f"key file {KEY_NOT_SHOWN} not found; check the path"
    public = keys.reviewer.with_name("reviewer.key.pub").read_text()
    assert not holds_private_key(public)  # a public key line is not hidden
    assert not holds_private_key("SHA256:cMucLRnf0Rb9q+dECBCiDDTHvlRgzRmoRNqGWsUagbE")


@pytest.mark.parametrize(
    "argv",
    [
        ("source", "add", "--title", "t", "--kind", "report", "--key", "{key}"),
        ("key", "pub", "{key}"),
        ("show", "{key}"),
        ("history", "{key}"),
        ("verify", "--trust-root", "{key}"),
        ("key", "revoke", "{key}", "--reason", "retired", "--key", "{owner}"),
        ("key", "grant", "{key}", "--name", "X", "--role", "reviewer", "--key", "{owner}"),
        ("init", "elsewhere", "--origin", "example.org/x", "--key", "{key}"),
        ("{key}",),
    ],
    ids=lambda argv: " ".join(a for a in argv if not a.startswith("{"))[:40] or "command",
)
def test_a_private_key_given_as_an_argument_is_refused_and_never_printed(
    run: Run, keys: Keys, ledger_dir: Path, argv: tuple[str, ...]
) -> None:
    before = files(ledger_dir)
    for form, secret in secrets_of(keys.reviewer).items():
        words = [a.replace("{key}", secret).replace("{owner}", str(keys.owner)) for a in argv]
        result = run(*words)
        assert result.code == 2, (form, result)
        assert result.err.startswith("error:"), (form, result.err)
        assert_not_shown(result, secret)
    assert files(ledger_dir) == before


def test_factledger_key_holding_the_key_itself_is_refused_with_a_hint(
    run: Run, keys: Keys, ledger_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = keys.reviewer.read_text()
    monkeypatch.setenv("FACTLEDGER_KEY", secret)
    before = files(ledger_dir)
    result = run("source", "add", "--title", "t", "--kind", "report")
    assert result.code == 2
    assert "$FACTLEDGER_KEY holds a private key itself, not the name of a file" in result.err
    assert_not_shown(result, secret)
    assert files(ledger_dir) == before


def test_an_entry_whose_text_holds_a_private_key_is_refused_before_it_is_published(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    secrets = secrets_of(keys.reviewer)
    before = files(ledger_dir)
    for form, secret in secrets.items():
        result = run("claim", "add", f"The key: {secret}", "--key", keys.reviewer)
        assert result.code == 2, (form, result)
        assert "the claim.asserted entry holds a private key" in result.err
        assert "nothing was written" in result.err
        assert_not_shown(result, secret)
        grant = run("key", "revoke", "Rui", "--reason", "retired", "--note", secret,
                    "--key", keys.owner)  # fmt: skip
        assert grant.code == 2, (form, grant)
        assert_not_shown(grant, secret)
    assert files(ledger_dir) == before
    kept = run("claim", "add", "A key fingerprint is public: SHA256:abc", "--key", keys.reviewer)
    assert kept.code == 0
    assert log_json(run)[-1]["entry"]["kind"] == "claim.asserted"
