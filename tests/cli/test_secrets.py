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
    body = openssh.splitlines()[1:-1]
    return {
        "openssh": openssh,
        "pkcs8": pem,
        "openssh body": "".join(body),
        "openssh body's lines": "\n".join(body),  # quoted by repr: '\\n' between them
        "openssh body, spaced": " ".join(body),  # as an unquoted $(...) gives it
        "pkcs8 base64": base64.b64encode(der).decode(),
    }


def assert_not_shown(result: Result, secret: str) -> None:
    printed = result.out + result.err
    assert "Traceback" not in printed
    for line in secret.split():
        if line.startswith("-----") or line in ("BEGIN", "END", "OPENSSH", "PRIVATE", "KEY-----"):
            continue
        for piece in (line[i : i + 16] for i in range(0, max(len(line) - 16, 1), 8)):
            assert piece not in printed, (piece, printed)


@pytest.mark.parametrize(
    "form",
    ["openssh", "pkcs8", "openssh body", "openssh body's lines", "openssh body, spaced",
     "pkcs8 base64"],
)  # fmt: skip
def test_the_text_of_every_form_of_private_key_is_recognised_and_hidden(
    keys: Keys, form: str
) -> None:
    secret = secrets_of(keys.reviewer)[form]
    for message in (f"key file {secret} not found; check the path",
                    f"no claim matches {secret!r}; check the id"):  # fmt: skip
        assert holds_private_key(message)
        hidden = hide_private_keys(message)
        assert KEY_NOT_SHOWN in hidden
        assert hidden.endswith("; check the path" if "file" in message else "; check the id")
        for line in secret.split():
            if not line.startswith("-----") and len(line) > 16:
                assert line[:16] not in hidden, (line, hidden)
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


def test_text_holding_a_private_key_is_refused_before_anything_is_written(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    """A key pasted as a claim, a note or a reason: the ledger would publish it for good."""
    before = files(ledger_dir)
    owner, reviewer = str(keys.owner), str(keys.reviewer)
    event = log_json(run)[-1]["id"]
    for form, secret in secrets_of(keys.reviewer).items():
        for argv, name in [
            (("claim", "add", f"The key: {secret}", "--key", reviewer), "text"),
            (("key", "revoke", "Rui", "--reason", "retired", "--note", secret, "--key", owner),
             "note"),
            (("redact", event, "--reason", secret, "--key", owner), "reason"),
            (("init", str(tmp_path / "new"), "--origin", "example.org/n", "--key", owner,
              "--description", secret), "description"),
        ]:  # fmt: skip
            result = run(*argv)
            assert result.code == 2, (form, argv[0], result)
            assert f"the value given for {name} holds a private key" in result.err
            assert "nothing was done" in result.err
            assert_not_shown(result, secret)
    assert files(ledger_dir) == before
    assert not (tmp_path / "new").exists()
    kept = run("claim", "add", "A key fingerprint is public: SHA256:abc", "--key", reviewer)
    assert kept.code == 0
    assert log_json(run)[-1]["entry"]["kind"] == "claim.asserted"
