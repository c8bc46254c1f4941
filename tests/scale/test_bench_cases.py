"""``benchmarks/bench_convert.py --cases ps`` rewrites only its own rows of docs/benchmarks.md: the section merge keeps
the rows of the cases not run (another engineer's figures), and a full run replaces everything it ran."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_convert as bench  # noqa: E402


def _section(main: str, ps: str | None = None) -> str:
    parts = [bench.START, main] + ([bench.PS_START, ps, bench.PS_END] if ps else []) + [bench.END]
    return "\n".join(parts)


def test_a_ps_only_run_keeps_the_other_rows():
    old = _section("| small row |\n| big row |")
    new = bench.merge_section(old, None, "\n".join([bench.PS_START, "| ps row 1 |", bench.PS_END]))
    assert "| small row |\n| big row |" in new and "| ps row 1 |" in new
    again = bench.merge_section(new, None, "\n".join([bench.PS_START, "| ps row 2 |", bench.PS_END]))
    assert "| small row |" in again and "| ps row 2 |" in again and "ps row 1" not in again
    assert again.count(bench.PS_START) == 1 and again.startswith(bench.START) and again.endswith(bench.END)


def test_a_main_only_run_keeps_the_ps_rows_and_replaces_its_own():
    old = _section("| small row OLD |", "| ps row |")
    new = bench.merge_section(old, _section("| small row NEW |"), None)
    assert "OLD" not in new and "| small row NEW |" in new and "| ps row |" in new


def test_render_ps_states_the_target_plainly():
    best = {n: {"wall": 1.0, "walls": [1.0], "peak_rss_mb": mb, "over_bare_mb": mb - 600, "rss_vs_baseline": mb / 800}
            for n, mb in {"bare": 600, "baseline": 800, "convert": 790, "model": 1100, "verify": 1400}.items()}
    case = {"sizes": bench.PS_SIZES, "bytes": 3e8, "shards": 3, "devices": ["", "/device:CPU:0", "/device:CPU:1"],
            "best": best,
            "rss_ok": {n: best[n]["rss_vs_baseline"] <= bench.PS_RATIO for n in ("convert", "model", "verify")}}
    text = bench.render_ps(case)
    assert "convert 0.99x (**met**)" in text and "verify 1.75x (**NOT met**)" in text
    assert text.count("| PS-era:") == 5 and "`/device:CPU:0`, `/device:CPU:1`" in text


@pytest.mark.parametrize("cases", ["", "small,huge"])
def test_unknown_cases_are_refused(cases, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--cases", cases, "--no-write"])
    assert exc.value.code == 2 and "--cases" in capsys.readouterr().err
