"""``rnn-migrate demo`` end to end in a reduced size: real TF1 checkpoint, conversion, verification, held-out
agreement, Keras resuming where TF1 stopped; and a sabotaged conversion that the demo must report (exit 1)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from migration.cli import main
from tests.examples.conftest import PLOT, STEPS

pytestmark = pytest.mark.xdist_group("demo")

ARGS = ["--steps", "40", "--keras-steps", "12", "--quiet", "--json"]


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["demo", *argv])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


@pytest.fixture(scope="module")
def demo_run(demo_pair):
    """The second run of the shared pair (tests/examples/conftest.py): a fresh process, ``--workdir`` kept."""
    run = demo_pair[1]
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    return run.proc.returncode, run.report, run.workdir, run.cwd / PLOT


def test_demo_succeeds_with_real_files(demo_run) -> None:
    code, report, work, plot = demo_run
    assert code == 0 and report["ok"] is True
    prefix = Path(report["legacy"]["checkpoint"])
    assert prefix.name == f"model.ckpt-{STEPS}" and prefix.parent == work / "tf1"
    for suffix in (".index", ".meta", ".data-00000-of-00001"):
        assert prefix.with_name(prefix.name + suffix).stat().st_size > 0
    assert (work / "tf1" / "checkpoint").exists() and (work / "keras" / "manifest.json").exists()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_figures_prove_the_migration(demo_run) -> None:
    _, report, _, _ = demo_run
    conv, held, cont = report["conversion"], report["held_out"], report["keras_continued"]
    assert conv["verified"] and 0 <= conv["max_abs_diff"] < 1e-5 and len(conv["checks"]) >= 5
    # the reference is the user's original graph, for the block and for the whole model that the demo evaluates
    assert conv["reference"] == "original-graph"
    assert conv["references"] == {"block rnn": "original-graph", "whole model": "original-graph"}
    assert conv["model"]["file"] == "model.keras" and conv["model"]["inputs"][0] == "input_data"
    assert held["same_predictions"] == 1.0 and held["max_abs_logit_diff"] < 1e-5
    assert held["legacy_accuracy"] == held["keras_accuracy"] == pytest.approx(report["legacy"]["held_out_accuracy"])
    assert cont["start_step"] == STEPS and cont["resume_gap"] < 1e-5
    assert conv["optimizer"]["iterations"] == STEPS and conv["optimizer"]["keras"]["epsilon"] == 1e-8
    assert cont["held_out_loss"] != cont["held_out_loss_at_start"]  # Keras really trained on


def test_demo_refuses_a_non_empty_workdir(demo_run, capsys) -> None:
    _, _, work, _ = demo_run
    code, report = _run(capsys, *ARGS, "--workdir", str(work))
    assert code == 2 and "--force" in report["error"]


def test_demo_reports_a_wrong_conversion(tmp_path, capsys, monkeypatch) -> None:
    """Sabotage the converted whole model (forget_bias taken out of the LSTM bias): the held-out check fails, exit 1."""
    from migration.examples import converted

    original = converted.load_converted_model

    def sabotaged(out_dir):
        model, optimizer, info, entry = original(out_dir)
        block = next(layer for layer in model.model.layers if layer.name.startswith("block_"))
        k, rk, b = block.get_weights()
        units = b.shape[0] // 4
        b = b.copy()
        b[units:2 * units] -= 1.0
        block.set_weights([k, rk, b])
        return model, optimizer, info, entry

    monkeypatch.setattr(converted, "load_converted_model", sabotaged)
    code, report = _run(capsys, "--steps", "20", "--keras-steps", "4", "--quiet", "--json", "--workdir", str(tmp_path / "w"))
    assert code == 1 and report["ok"] is False
    assert report["held_out"]["max_abs_logit_diff"] > 1e-3
    assert np.isfinite(report["held_out"]["keras_accuracy"])


def test_demo_report_is_on_stdout_and_never_names_a_removed_path(demo_run, capsys) -> None:
    """Results on stdout, like every command (`rnn-migrate demo > report.txt` keeps the report); with --json the
    report's lines go to stderr and stdout holds the JSON alone. A checkpoint inside a removed temporary directory is
    not printed as a path. Fails on main: the report went to stderr, and the removed path was printed."""
    import argparse
    import os

    from migration import demo

    _, report, _, _ = demo_run
    demo._print_report(report, argparse.Namespace(json=False))
    printed = capsys.readouterr()
    assert "rnn-migrate demo: OK" in printed.out and "held-out" in printed.out and printed.err == ""
    assert report["legacy"]["checkpoint"] in printed.out  # --workdir kept the files: the path is real
    demo._print_report({**report, "workdir_kept": False}, argparse.Namespace(json=False))
    out = capsys.readouterr().out
    assert report["legacy"]["checkpoint"] not in out and "temporary files removed" in out
    assert f"checkpoint {os.path.basename(report['legacy']['checkpoint'])} (removed with the temporary files)" in out
    demo._print_report(report, argparse.Namespace(json=True))
    printed = capsys.readouterr()
    assert printed.out == "" and "rnn-migrate demo: OK" in printed.err
