"""The headless core never loads DuckDB or Textual (DESIGN §8, STYLE: layers point one way).

``factledger verify`` must start fast in CI, so importing the core and the command
line's entry point must not pull in the projection or UI stacks. Checked in a
fresh interpreter, where nothing else has imported them first.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

CORE = ["ledger", "ledger.ledger", "ledger.cli.main", "ledger.rules", "ledger.codec"]
OPTIONAL = ["ledger.verify", "ledger.findings"]
HEAVY = ["duckdb", "textual"]


def modules_loaded_after_importing(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def present(names: list[str]) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is not None]


def test_importing_the_core_and_cli_entry_point_loads_neither_duckdb_nor_textual() -> None:
    loaded = modules_loaded_after_importing(CORE + present(OPTIONAL))
    assert set(CORE) <= loaded
    heavy = {m for m in loaded if m.split(".")[0] in HEAVY}
    assert heavy == set()


@pytest.mark.parametrize("heavy", HEAVY)
def test_the_probe_would_notice_a_heavy_import(heavy: str) -> None:
    """The check above can fail: importing the package directly does show up.

    Both are runtime dependencies of factledger (pyproject), so they are installed.
    """
    assert importlib.util.find_spec(heavy) is not None
    assert heavy in modules_loaded_after_importing([heavy])
