"""An unmet target's row says why from the run's own figures: the arithmetic behind it."""

from __future__ import annotations

import pytest

from scripts.bench import explain
from scripts.bench.measure import Sample
from scripts.bench.paths import ProjectionFigures


def test_an_unmet_verify_row_names_the_cpu_a_signature_leaves_to_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(explain.os, "cpu_count", lambda: 2)
    # Two cores checking 20,000 signatures a second: one costs 100 µs of CPU, and a
    # rate of 0.8 of that allows 125 µs an entry, so 25 µs for all but the signature.
    # 1,000 entries in 0.2 CPU-seconds is 200 µs each; the strict pass took 10 of them.
    why = explain.verify(1000, Sample((0.2,)), Sample((20_000.0,), "/s"), 0.01)
    assert "spent 200 µs of CPU per entry" in why
    assert "a signature costs 100 µs" in why
    assert "0.8× leaves 25 µs" in why
    assert "alone take 10 µs" in why
    assert "(90 µs)" in why  # 200 - 100 - 10: the fold, the Merkle edge, the hand-off
    assert "4.0× less CPU" in why  # (200 - 100) / 25


def test_an_unmet_inline_import_row_names_the_time_signing_leaves_to_the_rest() -> None:
    # Signing at 50,000/s is 20 µs; 0.7 of that rate allows 28.6 µs, so 8.6 µs beside it.
    # 10,000 entries whose close took 0.15 s: 15 µs each of the state cache's save.
    why = explain.batch_import(
        Sample((10_000.0,), "/s"), Sample((50_000.0,), "/s"), 0.15, 10_000, worker=False
    )
    assert "an entry takes 100 µs, of which signing 20 µs" in why
    assert "0.7× leaves 9 µs" in why
    assert "the writer's close, 15 µs" in why
    assert "which takes 80 µs in Python" in why


def test_an_unmet_import_signed_beside_the_writer_is_held_to_the_writer_s_own_time() -> None:
    # 25,000/s is 40 µs an entry in the writer; 0.7 × 50,000/s allows 28.6 µs.
    why = explain.batch_import(
        Sample((25_000.0,), "/s"), Sample((50_000.0,), "/s"), 0.12, 10_000, worker=True
    )
    assert "an entry takes 40 µs of the writer's time" in why
    assert "signing it (20 µs) runs mostly beside the writer" in why
    assert "allows 29 µs an entry for the writer's own work alone" in why
    assert "the hand-offs (28 µs in Python)" in why  # 40 - 12
    assert "mostly the state cache's save (12 µs)" in why
    # 11 µs over the 29 µs allowed, and the save alone is 12: a cheaper save would do
    assert "11 µs an entry less of the writer's work, which a close" in why


def test_a_worker_signed_import_whose_fold_alone_is_over_is_told_to_compile_it() -> None:
    # 20,000/s is 50 µs; 29 µs allowed, 21 over; the save (10 µs) cannot make that up
    why = explain.batch_import(
        Sample((20_000.0,), "/s"), Sample((50_000.0,), "/s"), 0.1, 10_000, worker=True
    )
    assert "that much cheaper" not in why
    assert "Would meet it: the compiled fold" in why


def test_a_met_import_target_needs_no_explanation() -> None:
    met = explain.batch_import(
        Sample((36_000.0,), "/s"), Sample((50_000.0,), "/s"), 0.1, 10_000, worker=True
    )
    assert met == ""


def test_an_unmet_rebuild_row_compares_the_strict_pass_alone_with_read_json() -> None:
    why = explain.rebuild(Sample((30.0,)), Sample((2.0,)), 12.0)
    assert "alone takes 12.0 s, 6.0× read_json" in why
    assert "takes 18.0 s more" in why
    assert "the strict pass compiled" in why  # 6× read_json: past the 2.5× target alone


def test_a_rebuild_whose_strict_pass_fits_the_target_is_not_told_to_compile_it() -> None:
    why = explain.rebuild(Sample((30.0,)), Sample((10.0,)), 12.0)  # 1.2× read_json
    assert "compiled" not in why
    assert "fewer and cheaper SQL steps" in why


def figures(quick: float, full: float) -> ProjectionFigures:
    one = Sample((1.0,))
    return ProjectionFigures(one, Sample((quick,)), Sample((full,)), one, one)


def test_the_cli_catch_up_blames_the_prefix_hash_only_for_the_time_it_adds() -> None:
    why = explain.full_catch_up(figures(0.1, 0.35), 1_000_000, 595_000_000)
    assert why.startswith("250 ms of it is reading and hashing the 595 MB prefix")


def test_a_cli_catch_up_no_slower_than_the_tuis_is_not_blamed_on_hashing() -> None:
    why = explain.full_catch_up(figures(0.05, 0.04), 2_000, 1_000_000)
    assert "hashing" not in why
    assert why.startswith("one entry still costs 40 ms")
