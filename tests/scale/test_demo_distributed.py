"""`rnn-migrate demo --strategy ... --workers 2`: the demo's Keras resume phase (``model.keras`` with the converted
Adam state, continuing at TF1's global step) under ``tf.distribute`` in real child processes on 127.0.0.1 gives the
losses of the ``--strategy none`` run of the same demo (same seed, same global batches; TF1 dropout off so that both
demos write the same checkpoint).

Small sizes: 10 TF1 steps, 3 Keras steps, batch 4. The multi-worker demo is the CLI in this process, bounded by the
demo's own ``--dist-timeout`` (its worker processes are stopped and reaped; a fresh parent only added a TensorFlow
import and a sandbox child; tests/scale/test_distributed.py kills a parent with SIGKILL for ``PR_SET_PDEATHSIG``);
the parameter-server phase runs on the ``--strategy none`` demo's files (no second TF1 run).
Afterwards every port of the cluster can be bound again: no worker or server survived."""
from __future__ import annotations

import io
import json
import socket
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from tests.ux import run_cli_in_process

# one xdist worker runs the whole module (setup.cfg: --dist loadgroup): its cached multi-process runs are made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scale_demo")]
ARGS = ["--steps", "10", "--keras-steps", "3", "--batch-size", "4", "--keep-prob", "1", "--quiet", "--json"]


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    """The ``--strategy none`` demo (in this process)."""
    from migration.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["demo", *ARGS, "--workdir", str(tmp_path_factory.mktemp("demo_none"))])
    report = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert code == 0, report
    return report


def _demo_cli(tmp: Path, strategy: str) -> dict:
    proc = run_cli_in_process("demo", *ARGS, "--workdir", str(tmp / strategy), "--strategy", strategy,
                              "--workers", "2", "--dist-timeout", "180", cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _port_free(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # TIME_WAIT of closed connections is fine, a listener is not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError:
            return False
    return True


def _same_as_single(single: dict, dist: dict, cont: dict, strategy: str) -> None:
    none, cont1 = single["distributed"], single["keras_continued"]
    assert (none["strategy"], none["workers"]) == ("none", 1)
    assert (dist["strategy"], dist["workers"]) == (strategy, 2)
    assert len(dist["step_losses"]) == 3 and np.ptp(none["step_losses"]) > 1e-3  # the losses move
    np.testing.assert_allclose(dist["step_losses"], none["step_losses"], atol=1e-3)
    assert cont["held_out_loss"] == pytest.approx(cont1["held_out_loss"], abs=1e-3)
    assert abs(cont1["held_out_loss"] - cont1["held_out_loss_at_start"]) > 1e-4  # Keras really trained on
    finals = dist["per_worker_final_loss"]
    assert len(finals) == 2 and finals[0] == pytest.approx(finals[1], abs=1e-6)
    addresses = [a for job in dist["cluster"].values() for a in job]
    assert addresses and all(a.startswith("127.0.0.1:") for a in addresses)
    assert all(_port_free(a) for a in addresses)  # every worker/server process is gone


def test_demo_on_two_worker_processes_gives_the_single_process_losses(single, tmp_path):
    """`rnn-migrate demo --strategy multi-worker --workers 2` end to end (the CLI) against
    `--strategy none`."""
    report = _demo_cli(tmp_path, "multi-worker")
    assert report["ok"] is True
    # the same TF1 run and conversion on both sides, so the Keras phase starts from the same state
    assert report["legacy"]["held_out_loss"] == pytest.approx(single["legacy"]["held_out_loss"], abs=1e-6)
    cont = report["keras_continued"]
    assert cont["start_step"] == single["keras_continued"]["start_step"] == 10 and cont["resume_gap"] < 1e-5
    dist = report["distributed"]
    _same_as_single(single, dist, cont, "multi-worker")
    assert dist["replicas"] == 2
    assert dist["per_worker_final_loss"][0] == pytest.approx(single["distributed"]["step_losses"][-1], abs=1e-3)


def test_demo_phase_under_parameter_servers_gives_the_single_process_losses(single):
    """The demo's Keras phase as `demo --strategy parameter-server` runs it (`distributed.train_modern` with a
    `Resume` of the converted directory), on the `--strategy none` demo's own files: the converted GloVe rows become
    a ShardedVariable on the 2 PS tasks (the file is rebuilt in the strategy's scope), same losses."""
    import argparse

    from migration.examples import converted, distributed, sentiment

    work = Path(single["workdir"])
    model, optimizer, _, _ = converted.load_converted_model(work / "keras")
    config = sentiment.SentimentConfig(steps=3, batch_size=4, keep_prob=1.0, ckpt_dir=str(work / "tf1"), seed=0)
    args = argparse.Namespace(strategy="parameter-server", workers=2, dist_timeout=180)
    prepared = sentiment.prepare(config)
    run, dist = distributed.train_modern(args, config, None, prepared,
                                         resume=distributed.Resume(str(work / "keras"), model, optimizer, 10))
    assert run.initial_eval["loss"] == pytest.approx(single["keras_continued"]["held_out_loss_at_start"], abs=1e-6)
    _same_as_single(single, dist, {"held_out_loss": run.held_out_loss}, "parameter-server")
    emb, rows = dist["embedding"], single["data"]["embedding_rows"]
    assert emb["class"] == "ShardedVariable" and [s[0] for s in emb["shards"]] == [(rows + 1) // 2, rows // 2]
    assert all("/job:ps/" in d for d in emb["devices"])
    # the trained weights came back into the model: its held-out loss is the children's result, not the start's
    assert distributed.evaluate(model, config, prepared)["loss"] == pytest.approx(run.held_out_loss)


def test_demo_refuses_an_uneven_split_before_training(tmp_path, capsys):
    from migration.cli import main

    code = main(["demo", "--steps", "10", "--batch-size", "4", "--strategy", "multi-worker", "--workers", "3",
                 "--quiet", "--json", "--workdir", str(tmp_path / "w")])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 2 and "multiple of the workers" in report["error"]
    assert not (tmp_path / "w").exists()  # refused before any file was written
