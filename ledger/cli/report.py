"""Verification reports as text, JSON, GitHub workflow annotations and JUnit XML.

Pure functions of a :class:`ledger.verify.Report`; the JSON shape is documented in
docs/verify.md and is a contract for scripts.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Final
from xml.etree import ElementTree as ET

from ledger.errors import LedgerError
from ledger.findings import RULES, Finding, Report
from ledger.ledger import CONFIG_NAME
from ledger.text import one_line

JSON_VERSION = 1


def _path(f: Finding, base: str) -> str:
    """The finding's file as the user named the ledger: ``base`` joined with it, the
    ``..`` of a file outside the ledger (a --since checkpoint) folded in."""
    return os.path.normpath(os.path.join(base, f.file)) if base else f.file


def _where(f: Finding, base: str) -> str:
    path = _path(f, base)
    return f"{path}:{f.line}" if f.line is not None else path


def as_text(report: Report, *, base: str = "", colour: bool = False) -> str:
    red, yellow, dim, reset = (
        ("\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[0m") if colour else ("",) * 4
    )
    lines = []
    for f in report.findings:
        tag = f"{red}error{reset}" if f.severity == "error" else f"{yellow}notice{reset}"
        event = f" {dim}(event {f.event_id[:12]}){reset}" if f.event_id else ""
        # Messages quote ledger text (key names): shown, never obeyed by the terminal.
        lines.append(f"{one_line(_where(f, base))}: {tag} [{f.rule}] {one_line(f.message)}{event}")
        if f.hint:
            lines.append(f"    hint: {one_line(f.hint)}")
    errors = len(report.errors)
    notices = len(report.findings) - errors
    cp = report.checkpoint
    cp_text = f"checkpoint at {cp.size}" if cp is not None else "no valid checkpoint"
    since = f", appends to {report.since.size} entries" if report.since and report.ok else ""
    verdict = "verified" if report.ok else f"{red}FAILED{reset}"
    lines.append(
        f"{verdict}: {report.entries} entries, {errors} error(s), {notices} notice(s); "
        f"{cp_text}{since}; root {report.root.hex()[:16]}; {report.seconds:.2f}s"
    )
    return "\n".join(lines) + "\n"


def as_json(report: Report) -> str:
    def cp(c: Any) -> dict[str, Any] | None:
        return None if c is None else {"origin": c.origin, "size": c.size, "root": c.root.hex()}

    doc = {
        "version": JSON_VERSION,
        "ok": report.ok,
        "origin": report.origin,
        "trust_root": report.trust_root,
        "entries": report.entries,
        "root": report.root.hex(),
        "checkpoint": cp(report.checkpoint),
        "since": cp(report.since),
        "seconds": round(report.seconds, 3),
        "counts": {
            "error": len(report.errors),
            "notice": len(report.findings) - len(report.errors),
        },
        "findings": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "message": f.message,
                "hint": f.hint,
                "file": f.file,
                "line": f.line,
                "event_id": f.event_id,
            }
            for f in report.findings
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def refusal_json(exc: LedgerError) -> str:
    """The JSON object of a run that could not verify: a ledger.toml that is not a valid
    config (the finding is in ``findings``), a missing ledger or an unreadable file."""
    findings = []
    if exc.rule is not None:
        findings.append(
            {
                "rule": exc.rule,
                "severity": "error",
                "message": exc.message,
                "hint": exc.hint,
                "file": CONFIG_NAME if exc.rule == "config" else exc.path,
                "line": exc.line,
                "event_id": None,
            }
        )
    doc = {
        "version": JSON_VERSION,
        "ok": False,
        "error": exc.one_line(),
        "exit_code": exc.exit_code,
        "counts": {"error": len(findings), "notice": 0},
        "findings": findings,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold at all, escaped or not."""


def _xml(text: str) -> str:
    """Ledger text for a JUnit document: visible, one line, and only XML's characters, so
    that a line added in a pull request cannot make the CI's JUnit reader fail."""
    return _NOT_XML.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", one_line(text))


def refusal_github(exc: LedgerError) -> str:
    """One error annotation for a run that could not verify (on ledger.toml for a config
    finding), then the summary line."""
    props = []
    if exc.rule == "config":
        on_disk = exc.path is not None and os.path.isfile(exc.path)
        file = os.path.relpath(exc.path) if on_disk and exc.path else "ledger.toml"
        props.append(f"file={_escape_property(file)}")
        if exc.line is not None:
            props.append(f"line={exc.line}")
    props.append(f"title={_escape_property('factledger ' + (exc.rule or 'verify'))}")
    message = exc.message + (f" — {exc.hint}" if exc.hint else "")
    annotation = f"::error {','.join(props)}::{_escape_data(one_line(message))}"
    return f"{annotation}\nverification failed: could not verify\n"


def refusal_junit(exc: LedgerError) -> str:
    """A JUnit document whose one test case errored: the check could not run."""
    suites = ET.Element("testsuites", name="factledger verify")
    suite = ET.SubElement(
        suites, "testsuite", name="factledger verify", tests="1", failures="0", errors="1"
    )
    case = ET.SubElement(suite, "testcase", classname="factledger.verify", name=exc.rule or "run")
    error = ET.SubElement(case, "error", message=_xml(exc.message), type=exc.rule or "error")
    error.text = _xml(exc.one_line())
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(report: Report, *, base: str = "") -> str:
    """GitHub Actions workflow commands: one annotation per finding, at file and line."""
    out = []
    for f in report.findings:
        level = "error" if f.severity == "error" else "notice"
        props = [f"file={_escape_property(_path(f, base))}"]
        if f.line is not None:
            props.append(f"line={f.line}")
        props.append(f"title={_escape_property('factledger ' + f.rule)}")
        message = f.message + (f" — {f.hint}" if f.hint else "")
        out.append(f"::{level} {','.join(props)}::{_escape_data(message)}")
    summary = "verified" if report.ok else "verification failed"
    out.append(f"{summary}: {report.entries} entries, {len(report.errors)} error(s)")
    return "\n".join(out) + "\n"


def as_junit(report: Report, *, base: str = "") -> str:
    """JUnit XML: one test case per rule class; failures carry that rule's findings."""
    by_rule: dict[str, list[Finding]] = {rule: [] for rule in RULES}
    for f in report.errors:
        by_rule.setdefault(f.rule, []).append(f)
    failures = sum(1 for found in by_rule.values() if found)
    suites = ET.Element("testsuites", name="factledger verify")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_xml(f"factledger verify {report.origin}"),
        tests=str(len(by_rule)),
        failures=str(failures),
        errors="0",
        time=f"{report.seconds:.3f}",
    )
    for rule, found in by_rule.items():
        case = ET.SubElement(suite, "testcase", classname="factledger.verify", name=rule)
        if found:
            failure = ET.SubElement(case, "failure", message=f"{len(found)} finding(s)", type=rule)
            failure.text = "\n".join(
                _xml(f"{_where(f, base)}: {f.message}" + (f" ({f.hint})" if f.hint else ""))
                for f in found
            )
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
