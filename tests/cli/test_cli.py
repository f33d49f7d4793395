"""The ``factledger`` command line: exit codes, messages, ids, environment (DESIGN §13).

Most tests call :func:`ledger.cli.main.main` in-process (fast); a few run the real
console script in a subprocess, as a user or CI job would.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_ssh_private_key,
)

from ledger.errors import BadKey
from ledger.keys import SigningKey, load_signing_key, save_signing_key
from tests.cli.support import (
    CLAIM_ID,
    EVENT_ID,
    PASSPHRASE,
    SOURCE_ID,
    Keys,
    Run,
    Terminal,
    add_claim,
    add_source,
    factledger,
    files,
    log_json,
)

pytestmark = pytest.mark.usefixtures("isolated")


# --- write verbs print the new id and nothing else ---------------------------------


def test_claim_add_prints_only_the_new_claim_id(run: Run, keys: Keys, ledger_dir: Path) -> None:
    result = run("claim", "add", "The river rose two metres.", "--key", keys.reviewer)
    assert result.code == 0
    assert CLAIM_ID.fullmatch(result.out.removesuffix("\n"))
    assert result.out.count("\n") == 1
    last = log_json(run)[-1]
    assert last["entry"]["subject"] == result.out.strip()  # type: ignore[index]


def test_source_add_prints_only_the_new_source_id(run: Run, keys: Keys, ledger_dir: Path) -> None:
    result = run("source", "add", "--title", "T", "--kind", "article", "--key", keys.reviewer)
    assert result.code == 0
    assert SOURCE_ID.fullmatch(result.out.removesuffix("\n"))


def test_event_verbs_print_only_the_new_event_id(run: Run, keys: Keys, ledger_dir: Path) -> None:
    claim = add_claim(run, keys)
    result = run("claim", "correct", claim, "The river rose 2.1 m.", "--kind", "typo",
                 "--reason", "transcript", "--key", keys.reviewer)  # fmt: skip
    assert result.code == 0, result.err
    assert EVENT_ID.fullmatch(result.out.removesuffix("\n"))
    assert log_json(run)[-1]["id"] == result.out.strip()


def test_json_flag_prints_the_full_entry(run: Run, keys: Keys, ledger_dir: Path) -> None:
    result = run("claim", "add", "Rain fell «forty» days 🌧", "--claimant", "a blog",
                 "--json", "--key", keys.reviewer)  # fmt: skip
    assert result.code == 0
    doc = json.loads(result.out)
    entry = doc["entry"]
    assert entry["kind"] == "claim.asserted"
    assert entry["body"]["text"] == "Rain fell «forty» days 🌧"
    assert entry["body"]["claimant"] == "a blog"
    assert CLAIM_ID.fullmatch(entry["subject"])
    assert doc["seq"] == 3
    assert doc["id"] == log_json(run)[3]["id"]


def test_init_prints_the_genesis_id(run: Run, keys: Keys, tmp_path: Path) -> None:
    result = run("init", tmp_path / "new", "--origin", "example.org/new", "--key", keys.owner)
    assert result.code == 0
    assert EVENT_ID.fullmatch(result.out.removesuffix("\n"))
    assert "SHA256:" in result.err  # the trust root to pin goes to stderr, not stdout


# --- ids by unique prefix ----------------------------------------------------------


def test_claims_and_sources_are_found_by_unique_prefix(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    claim, source = add_claim(run, keys), add_source(run, keys)
    result = run("claim", "attribute", claim[:7], source[:7], "--stance", "supports",
                 "--credibility", "2", "--key", keys.reviewer)  # fmt: skip
    assert result.code == 0, result.err
    body = log_json(run)[-1]["entry"]["body"]  # type: ignore[index]
    assert body["source"] == source
    assert log_json(run)[-1]["entry"]["subject"] == claim  # type: ignore[index]


def test_ambiguous_prefix_is_a_usage_error(run: Run, keys: Keys, ledger_dir: Path) -> None:
    add_claim(run, keys, "one")
    add_claim(run, keys, "two")
    before = (ledger_dir / "events.jsonl").read_bytes()
    result = run("claim", "correct", "clm_", "x", "--kind", "typo", "--reason", "r",
                 "--key", keys.reviewer)  # fmt: skip
    assert result.code == 2
    assert result.one_error_line().startswith("error:")
    assert result.out == ""
    assert (ledger_dir / "events.jsonl").read_bytes() == before


def test_unknown_claim_prefix_is_a_usage_error(run: Run, keys: Keys, ledger_dir: Path) -> None:
    add_claim(run, keys)
    result = run("claim", "note", "clm_zzzz", "hello", "--key", keys.reviewer)
    assert result.code == 2
    line = result.one_error_line()
    assert line.startswith("error:")
    assert "clm_zzzz" in line
    assert result.out == ""


# --- exit codes and one-line errors -------------------------------------------------


def test_rule_refusal_exits_1_with_one_error_line(run: Run, keys: Keys, ledger_dir: Path) -> None:
    claim = add_claim(run, keys)
    before = (ledger_dir / "events.jsonl").read_bytes()
    result = run("claim", "verdict", claim, "false", "--rationale", "r", "--key", keys.reviewer)
    assert result.code == 1
    line = result.one_error_line()
    assert line.startswith("error:")
    assert "reviewer" in line
    assert result.out == ""
    assert (ledger_dir / "events.jsonl").read_bytes() == before


def test_no_ledger_found_exits_3(run: Run, keys: Keys, tmp_path: Path) -> None:
    result = run("claim", "add", "x", "--key", keys.reviewer)
    assert result.code == 3
    line = result.one_error_line()
    assert line.startswith("error:")
    assert "ledger.toml" in line


def test_missing_ledger_directory_given_explicitly_exits_3(run: Run, tmp_path: Path) -> None:
    result = run("log", "--ledger", tmp_path / "nowhere")
    assert result.code == 3
    assert result.one_error_line().startswith("error:")


def test_unreadable_key_file_exits_3(run: Run, ledger_dir: Path, tmp_path: Path) -> None:
    result = run("claim", "add", "x", "--key", tmp_path / "no-such.key")
    assert result.code == 3
    assert result.one_error_line().startswith("error:")


def test_missing_key_is_a_usage_error(run: Run, ledger_dir: Path) -> None:
    result = run("claim", "add", "x")
    assert result.code == 2
    line = result.one_error_line()
    assert line.startswith("error:")
    assert "--key" in line
    assert "FACTLEDGER_KEY" in line


@pytest.mark.parametrize(
    "at", ["yesterday", "2024-04-02T09:15:00", "2024-13-01T00:00:00Z", "2024-04-02T09:15:00.5Z"]
)
def test_bad_at_is_a_usage_error(run: Run, keys: Keys, ledger_dir: Path, at: str) -> None:
    result = run("claim", "add", "x", "--at", at, "--key", keys.reviewer)
    assert result.code == 2
    assert "--at" in result.one_error_line()
    assert result.out == ""


@pytest.mark.parametrize("value", ["0", "7", "two", "2.5", ""])
def test_bad_credibility_is_a_usage_error(
    run: Run, keys: Keys, ledger_dir: Path, value: str
) -> None:
    claim, source = add_claim(run, keys), add_source(run, keys)
    before = (ledger_dir / "events.jsonl").read_bytes()
    result = run("claim", "attribute", claim, source, "--stance", "supports",
                 "--credibility", value, "--key", keys.reviewer)  # fmt: skip
    assert result.code == 2
    assert "credibility" in result.one_error_line()
    assert (ledger_dir / "events.jsonl").read_bytes() == before


def test_at_is_recorded_in_utc(run: Run, keys: Keys, ledger_dir: Path) -> None:
    result = run("claim", "add", "x", "--at", "2024-04-02T11:15:00+02:00", "--key", keys.reviewer)
    assert result.code == 0, result.err
    assert log_json(run)[-1]["entry"]["at"] == "2024-04-02T09:15:00Z"  # type: ignore[index]


def test_malformed_content_hash_is_refused_and_the_ledger_keeps_working(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    before = (ledger_dir / "events.jsonl").read_bytes()
    result = run("source", "add", "--title", "T", "--kind", "dataset", "--content-sha256",
                 "not-a-hash", "--key", keys.reviewer)  # fmt: skip
    assert result.code == 2
    assert result.one_error_line().startswith("error:")
    assert (ledger_dir / "events.jsonl").read_bytes() == before
    assert run("log").code == 0


# --- keys and the environment -------------------------------------------------------


def test_key_new_writes_a_private_file_and_never_prints_private_material(
    run: Run, tmp_path: Path
) -> None:
    path = tmp_path / "me.key"
    result = run("key", "new", path, "--comment", "me@example.org")
    assert result.code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}\n", result.out)
    private = load_ssh_private_key(path.read_bytes(), None)
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    printed = result.out + result.err
    assert "PRIVATE KEY" not in printed
    for secret in (seed.hex(), base64.b64encode(seed).decode()[:20], path.read_text()[40:80]):
        assert secret not in printed
    assert Path(f"{path}.pub").read_text().startswith("ssh-ed25519 ")
    assert result.out.strip() == load_signing_key(path, None).public.fingerprint


def test_key_new_refuses_to_overwrite_an_existing_key(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "me.key"
    assert run("key", "new", path).code == 0
    before = path.read_bytes()
    result = run("key", "new", path)
    assert result.code == 2
    assert result.one_error_line().startswith("error:")
    assert path.read_bytes() == before


def test_passphrase_from_the_environment_encrypts_and_unlocks_a_key(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.key"
    monkeypatch.setenv("FACTLEDGER_PASSPHRASE", PASSPHRASE)
    made = run("key", "new", path)
    assert made.code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSPHRASE not in made.out + made.err
    with pytest.raises(BadKey):
        load_signing_key(path, None)  # really encrypted
    monkeypatch.delenv("FACTLEDGER_PASSPHRASE")
    granted = run("key", "grant", f"{path}.pub", "--name", "Sec", "--role", "reviewer",
                  "--key", keys.owner)  # fmt: skip
    assert granted.code == 0, granted.err
    monkeypatch.setenv("FACTLEDGER_PASSPHRASE", PASSPHRASE)
    result = run("claim", "add", "signed with an encrypted key", "--key", path)
    assert result.code == 0, result.err
    assert log_json(run)[-1]["entry"]["author"] == made.out.strip()  # type: ignore[index]


def test_wrong_passphrase_is_a_usage_error(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secret.key"
    monkeypatch.setenv("FACTLEDGER_PASSPHRASE", PASSPHRASE)
    assert run("key", "new", path).code == 0
    monkeypatch.setenv("FACTLEDGER_PASSPHRASE", "hunter2-not-it")
    before = (ledger_dir / "events.jsonl").read_bytes()
    result = run("claim", "add", "x", "--key", path)
    assert result.code == 2
    line = result.one_error_line()
    assert "passphrase" in line
    assert "hunter2-not-it" not in result.err
    assert (ledger_dir / "events.jsonl").read_bytes() == before


def test_factledger_key_names_the_signing_key(
    run: Run, keys: Keys, ledger_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTLEDGER_KEY", str(keys.editor))
    claim = add_claim(run, keys)
    result = run("claim", "verdict", claim, "false", "--rationale", "gauges")
    assert result.code == 0, result.err
    editor = load_signing_key(keys.editor, None).public.fingerprint
    assert log_json(run)[-1]["entry"]["author"] == editor  # type: ignore[index]


def test_key_flag_wins_over_factledger_key(
    run: Run, keys: Keys, ledger_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTLEDGER_KEY", str(keys.editor))
    add_claim(run, keys)
    reviewer = load_signing_key(keys.reviewer, None).public.fingerprint
    assert log_json(run)[-1]["entry"]["author"] == reviewer  # type: ignore[index]


def test_factledger_dir_names_the_ledger(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run("log").code == 3
    monkeypatch.setenv("FACTLEDGER_DIR", str(ledger_dir))
    claim = add_claim(run, keys)
    assert claim in (ledger_dir / "events.jsonl").read_text(encoding="utf-8")


def test_ledger_is_found_from_a_subdirectory(run: Run, keys: Keys, ledger_dir: Path) -> None:
    sub = ledger_dir / "notes" / "deep"
    sub.mkdir(parents=True)
    os.chdir(sub)
    claim = add_claim(run, keys)
    assert claim in (ledger_dir / "events.jsonl").read_text(encoding="utf-8")


# --- log -----------------------------------------------------------------------------


def test_log_prints_one_line_per_event_newest_last(run: Run, keys: Keys, ledger_dir: Path) -> None:
    claim = add_claim(run, keys)
    result = run("log")
    assert result.code == 0
    lines = result.out.splitlines()
    assert len(lines) == 4
    assert "ledger.created" in lines[0]
    assert "claim.asserted" in lines[3]
    assert claim in lines[3]
    assert "Rui" in lines[3]  # the signer's granted name


def test_log_claim_lists_only_that_claims_stream(run: Run, keys: Keys, ledger_dir: Path) -> None:
    first = add_claim(run, keys, "first")
    second = add_claim(run, keys, "second")
    assert run("claim", "note", first, "look again", "--key", keys.reviewer).code == 0
    result = run("log", "--claim", first[:8])
    assert result.code == 0
    lines = result.out.splitlines()
    assert len(lines) == 2
    assert all(first in line for line in lines)
    assert second not in result.out


def test_log_json_prints_one_parseable_entry_per_line(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    add_claim(run, keys)
    docs = log_json(run)
    assert [d["seq"] for d in docs] == [0, 1, 2, 3]
    assert all(EVENT_ID.fullmatch(str(d["id"])) for d in docs)
    assert docs[0]["entry"]["kind"] == "ledger.created"  # type: ignore[index]
    assert docs[3]["entry"]["parent"] is None  # type: ignore[index]


def test_log_json_with_claim_filters_too(run: Run, keys: Keys, ledger_dir: Path) -> None:
    first, _ = add_claim(run, keys, "first"), add_claim(run, keys, "second")
    result = run("log", "--json", "--claim", first)
    docs = [json.loads(line) for line in result.out.splitlines()]
    assert [d["entry"]["subject"] for d in docs] == [first]


# --- the real console script ----------------------------------------------------------


def test_help_lists_the_exit_codes(tmp_path: Path) -> None:
    done = factledger("--help", cwd=tmp_path)
    assert done.returncode == 0
    text = done.stdout.decode()
    assert "exit codes" in text
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for code in ("0", "1", "2", "3"):
        helped = re.search(rf"^\s+{code}\s+(\S.*)$", text, re.MULTILINE)
        assert helped, code
        # the README's table says the same, word for word (its backticks aside)
        assert f"| {code} | {helped[1]} |" in readme.replace("`", ""), code
    assert "FACTLEDGER_DIR" in text


def test_console_script_reports_a_missing_ledger_in_one_line(tmp_path: Path) -> None:
    done = factledger("log", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stdout == b""
    err = done.stderr.decode()
    assert err.startswith("error:")
    assert err.count("\n") == 1


def test_console_script_appends_and_prints_the_claim_id(keys: Keys, ledger_dir: Path) -> None:
    done = factledger("claim", "add", "via the script", "--key", keys.reviewer, cwd=ledger_dir)
    assert done.returncode == 0, done.stderr
    assert CLAIM_ID.fullmatch(done.stdout.decode().removesuffix("\n"))


def test_console_script_refuses_text_that_is_not_utf8_without_a_traceback(
    keys: Keys, ledger_dir: Path
) -> None:
    before = (ledger_dir / "events.jsonl").read_bytes()
    done = factledger("claim", "add", b"bad \xff text", "--key", keys.reviewer, cwd=ledger_dir)
    err = done.stderr.decode(errors="replace")
    assert "Traceback" not in err
    assert done.returncode == 2
    assert err.startswith("error:")
    assert (ledger_dir / "events.jsonl").read_bytes() == before


def test_a_long_fold_shows_its_progress_on_a_terminal_and_clears_it(
    ledger_dir: Path, tmp_path: Path
) -> None:
    import argparse

    from ledger.cli.context import Context

    terminal = Terminal()
    ctx = Context(argparse.Namespace(ledger=str(ledger_dir)), err=terminal)  # type: ignore[arg-type]
    ledger = ctx.ledger()
    assert ledger.on_fold == ctx.folding
    ctx.folding(3 << 20, 12 << 20)
    assert terminal.text == (
        "\rreading the log…  25% of 12 MiB (once: the next command starts from the cached state)"
    )
    ctx.folding(12 << 20, 12 << 20)
    assert terminal.text.endswith("\r\x1b[K")  # nothing left on the line
    with (tmp_path / "err").open("w") as log:
        piped = Context(argparse.Namespace(ledger=str(ledger_dir)), err=log)
        assert piped.ledger().on_fold is None  # a log or a pipe gets no carriage returns


# --- refused before they do harm (found by a sweep of the error paths) -----------
# A revocation that would leave no admin, a merge signed by a key the ledger never
# granted, an empty --since from an unset CI variable, Ctrl-D at the passphrase prompt,
# and a key comment that cannot be written: one error line, and every file as it was.


def test_revoking_the_last_admin_key_is_refused_and_the_ledger_stays_writable(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    before = files(ledger_dir)
    result = run("key", "revoke", "owner@example.org", "--reason", "retired", "--key", keys.owner)
    assert result.code == 2
    assert "no admin key" in result.one_error_line()
    assert "grant another admin key first" in result.err
    assert files(ledger_dir) == before
    add_claim(run, keys)  # still writable


def test_the_owner_may_be_revoked_once_another_admin_holds_a_key(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    second = tmp_path / "keys" / "admin2.key"
    save_signing_key(SigningKey.from_seed(b"\x09" * 32, "admin2@example.org"), second, None)
    assert run("key", "grant", f"{second}.pub", "--name", "Ada", "--role", "admin",
               "--key", keys.owner).code == 0  # fmt: skip
    result = run("key", "revoke", "owner@example.org", "--reason", "retired", "--key", second)
    assert result.code == 0, result.err
    assert run("verify", "--unsafe-allow-test-keys").code == 0


def test_a_merge_signed_by_a_key_the_ledger_never_granted_writes_nothing(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    theirs = tmp_path / "theirs"
    shutil.copytree(ledger_dir, theirs)
    assert run("claim", "add", "Their claim.", "--key", keys.reviewer, "--ledger", theirs).code == 0
    stranger = tmp_path / "keys" / "stranger.key"
    save_signing_key(SigningKey.from_seed(b"\x07" * 32, "stranger@example.org"), stranger, None)
    before = files(ledger_dir)
    result = run("merge", theirs / "events.jsonl", "--key", stranger)
    assert result.code == 1
    assert "[unknown-key]" in result.one_error_line()
    assert files(ledger_dir) == before
    assert run("merge", theirs / "events.jsonl", "--key", keys.reviewer).code == 0
    assert run("verify", "--unsafe-allow-test-keys").code == 0


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_since_is_a_usage_error_not_a_skipped_check(
    run: Run, ledger_dir: Path, value: str
) -> None:
    result = run("verify", "--since", value, "--unsafe-allow-test-keys")
    assert result.code == 2
    assert "--since is empty" in result.one_error_line()


def test_ctrl_d_at_the_passphrase_prompt_is_one_line(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "keys" / "locked.key"
    save_signing_key(SigningKey.from_seed(b"\x05" * 32, "locked@example.org"), locked, b"pw")

    def ctrl_d(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(getpass, "getpass", ctrl_d)
    before = files(ledger_dir)
    result = run("claim", "add", "A claim.", "--key", locked)
    assert result.code == 2
    assert "no passphrase given" in result.one_error_line()
    assert files(ledger_dir) == before


@pytest.mark.parametrize(
    ("comment", "says"), [("two\nlines", "one line"), ("bad \udcff byte", "UTF-8 text")]
)
def test_a_key_comment_that_cannot_be_one_line_of_utf8_writes_no_file(
    run: Run, tmp_path: Path, comment: str, says: str
) -> None:
    path = tmp_path / "new.key"
    result = run("key", "new", path, "--comment", comment)
    assert result.code == 2
    assert says in result.one_error_line()
    assert not path.exists()
    assert not Path(f"{path}.pub").exists()
    assert run("key", "new", path, "--comment", "fine").code == 0


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (("show", "\udcff"), "CLAIM"),
        (("history", "\udcff"), "CLAIM"),
        (("query", "select '\udcff'"), "SQL"),
    ],
)
def test_read_arguments_that_are_not_utf8_are_one_usage_line_naming_the_argument(
    run: Run, keys: Keys, ledger_dir: Path, argv: tuple[str, ...], name: str
) -> None:
    add_claim(run, keys)
    result = run(*argv)
    assert result.code == 2
    assert f"argument {name}: is not UTF-8 text" in result.one_error_line()


def test_query_json_is_valid_json_for_values_json_cannot_hold(
    run: Run, keys: Keys, ledger_dir: Path
) -> None:
    add_claim(run, keys)
    result = run(
        "query",
        "--json",
        "select 'nan'::double as n, 1/0 as inf, -1/0 as neg, 'ab'::blob as b, 1.5::double as x",
    )
    assert result.code == 0, result.err
    rows = json.loads(result.out, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))
    assert rows == [{"n": None, "inf": None, "neg": None, "b": "6162", "x": 1.5}]


def test_check_receipt_json_reports_a_refusal_on_stdout_too(
    run: Run, keys: Keys, ledger_dir: Path, tmp_path: Path
) -> None:
    claim = add_claim(run, keys)
    receipt = tmp_path / "receipt.txt"
    assert run("prove", claim, "-o", receipt).code == 0
    owner = SigningKey.from_seed(bytes([1]) * 32).public.fingerprint
    good = run("check-receipt", receipt, "--trust-root", owner, "--json")
    assert good.code == 0, good.err
    assert json.loads(good.out)["ok"] is True
    text = receipt.read_text()
    assert "The river rose" in text
    receipt.write_text(text.replace("The river rose", "The river fell"))
    bad = run("check-receipt", receipt, "--trust-root", owner, "--json")
    assert bad.code == 1
    assert bad.one_error_line()
    verdict = json.loads(bad.out)
    assert verdict["ok"] is False
    assert verdict["file"] == str(receipt)
    assert verdict["error"]["message"]
