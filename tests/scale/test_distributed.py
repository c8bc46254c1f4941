"""Out and back: the sentiment example's Keras model under tf.distribute (real child processes on 127.0.0.1), equal
to the single-process run on the same global batches, and the parameter-server run's sharded embedding exported
with ``export --partitions`` into a TF1 ``fixed_size_partitioner`` graph.

The single-process reference is the example's own ``train_modern`` loop from the same (seeded, NumPy-made) TF1
initial weights; the TF1 side of the round trip is a graph written here with ``tf.compat.v1`` and ``Saver``."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from migration.examples import distributed, sentiment
from tests.ux import run_cli_in_process

# one xdist worker runs the whole module (setup.cfg: --dist loadgroup): its cached multi-process runs are made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scale_distributed")]
ROOT = Path(__file__).resolve().parents[2]
UNITS, VOCAB, DIM, T = 5, 30, 6, 7


def _children() -> list[int]:
    """Live child processes of this test process (from /proc): every worker a run starts must have been reaped
    (the tests compare with the children alive before the run)."""
    me, out = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != "Z":
                out.append(int(entry))
    return out


@pytest.fixture(scope="module")
def tiny():
    """A small Prepared split (ids with real structure: label = parity of the first id) and TF1 initial weights."""
    rng = np.random.default_rng(3)
    ids = rng.integers(0, VOCAB, (48, T)).astype(np.int32)
    lengths = rng.integers(1, T + 1, 48).astype(np.int32)
    labels = (ids[:, 0] % 2).astype(np.int32)
    matrix = rng.normal(0, 0.5, (VOCAB, DIM)).astype(np.float32)
    prepared = sentiment.Prepared(ids[:32], lengths[:32], labels[:32], ids[32:], lengths[32:], labels[32:], matrix,
                                  VOCAB, "tiny", "tiny")
    init = {"rnn/basic_lstm_cell/kernel": rng.normal(0, 0.4, (DIM + UNITS, 4 * UNITS)).astype(np.float32),
            "rnn/basic_lstm_cell/bias": rng.normal(0, 0.4, 4 * UNITS).astype(np.float32),
            "Variable": rng.normal(0, 0.4, (UNITS, 2)).astype(np.float32),
            "Variable_1": np.array([0.1, -0.2], np.float32)}
    return prepared, init


#: dropout ON in every strategy run: its masks are data (sentiment.dropout_masks), so the same seed must give the
#: same losses under every --strategy with dropout too (it did not when Keras drew them in each replica)
KEEP_PROB = 0.5


def _config(keep_prob: float = KEEP_PROB) -> sentiment.SentimentConfig:
    return sentiment.SentimentConfig(steps=4, batch_size=8, max_len=T, units=UNITS, keep_prob=keep_prob,
                                     learning_rate=0.05, seed=1, quiet=True)


@pytest.fixture(scope="module")
def runs(tiny):
    cache: dict = {}

    def get(strategy: str, fault: str = "none", keep_prob: float = KEEP_PROB):
        if (strategy, fault, keep_prob) not in cache:
            args = argparse.Namespace(strategy=strategy, workers=2, train_embedding=True, dist_timeout=240)
            before = set(_children())  # e.g. the sandbox child an earlier in-process convert left for reuse
            cache[strategy, fault, keep_prob] = distributed.train_modern(args, _config(keep_prob), tiny[1], tiny[0],
                                                                         fault=fault)
            assert set(_children()) - before == set()
        return cache[strategy, fault, keep_prob]

    return get


def test_dropout_is_on_in_the_strategy_runs(runs):
    """The runs compared below really drop units: the same run without dropout has other losses."""
    with_dropout, without = runs("none")[1]["step_losses"], runs("none", keep_prob=1.0)[1]["step_losses"]
    assert np.max(np.abs(np.subtract(with_dropout, without))) > 1e-3


def _same_as_single_process(runs, strategy: str) -> dict:
    single, info = runs("none")[1], runs(strategy)[1]
    assert len(info["step_losses"]) == 4 and np.ptp(single["step_losses"]) > 1e-3  # the loss moves
    np.testing.assert_allclose(info["step_losses"], single["step_losses"], atol=1e-5)
    assert runs(strategy)[0].held_out_loss == pytest.approx(runs("none")[0].held_out_loss, abs=1e-5)
    return info


def test_mirrored_replicas_give_the_single_process_losses(runs):
    info = _same_as_single_process(runs, "mirrored")
    assert (info["strategy"], info["workers"], info["replicas"]) == ("mirrored", 2, 2)
    assert len(info["per_worker_final_loss"]) == 2
    assert info["per_worker_final_loss"][0] == pytest.approx(info["per_worker_final_loss"][1], abs=1e-6)


def test_two_worker_processes_give_the_single_process_losses(runs):
    info = _same_as_single_process(runs, "multi-worker")
    assert (info["workers"], info["replicas"]) == (2, 2)
    assert all(a.startswith("127.0.0.1:") for a in info["cluster"]["worker"]) and len(info["cluster"]["worker"]) == 2
    finals = info["per_worker_final_loss"]
    assert len(finals) == 2 and finals[0] == pytest.approx(finals[1], abs=1e-6)
    assert finals[1] == pytest.approx(runs("none")[1]["step_losses"][-1], abs=1e-3)


def test_parameter_server_shards_the_embedding_and_matches(runs, tiny):
    run, info = runs("parameter-server")
    _same_as_single_process(runs, "parameter-server")
    emb = info["embedding"]
    assert emb["class"] == "ShardedVariable" and emb["shards"] == [[VOCAB // 2, DIM], [VOCAB // 2, DIM]]
    assert len({d.split("/device")[0] for d in emb["devices"]}) == 2 and all("/job:ps/" in d for d in emb["devices"])
    assert all(a.startswith("127.0.0.1:") for job in info["cluster"].values() for a in job)
    # every worker computes the same loss from the PS variables, and it is the trained model's loss on that batch
    finals = info["per_worker_final_loss"]
    assert len(finals) == 2 and finals[0] == pytest.approx(finals[1], abs=1e-6)
    prepared = tiny[0]
    last = sentiment.batch_indices(prepared.train_labels, 8, 4, 1)[-1]
    logits = np.asarray(run.model((prepared.train_ids[last], prepared.train_lengths[last]), training=False))
    z = logits - logits.max(1, keepdims=True)
    nll = -(z - np.log(np.exp(z).sum(1, keepdims=True)))[np.arange(8), prepared.train_labels[last]]
    assert finals[0] == pytest.approx(float(nll.mean()), abs=1e-5)
    trained = np.asarray(run.model.embedding.embeddings)
    assert np.abs(trained - prepared.matrix).max() > 1e-3  # the embedding really trained


def test_unsharded_input_is_caught(runs):
    """Negative control: both replicas reading the same half of the global batch (an input pipeline not sharded per
    replica) no longer gives the single-process losses."""
    single = runs("none")[1]["step_losses"]
    wrong = runs("mirrored", "unsharded")[1]["step_losses"]
    assert np.abs(np.subtract(wrong, single)).max() > 1e-3


def _functional(run):
    """The trained subclassed model's layers as a functional model that `export` loads safely."""
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    ids = keras.Input((T,), dtype="int32")
    emb = keras.layers.Embedding(VOCAB, DIM, name="embedding")
    lstm = keras.layers.LSTM(UNITS, unit_forget_bias=True, name="lstm")
    dense = keras.layers.Dense(2, name="dense")
    model = keras.Model(ids, dense(lstm(emb(ids))))
    emb.set_weights([np.asarray(run.model.embedding.embeddings)])
    lstm.set_weights(run.model.lstm.get_weights())
    dense.set_weights(run.model.dense.get_weights())
    return model


def _tf1_logits(prefix: str, strategy: str, ids: np.ndarray, parts: int = 2):
    """A TF1 PS-style graph: fixed_size_partitioner(parts) embedding looked up with ``strategy`` -> BasicLSTMCell ->
    dense; Saver.restore(prefix). Returns (logits, [part values])."""
    import legacy_rnn
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph() as graph:
        x = v1.placeholder(tf.int32, [None, T])
        emb = v1.get_variable("embedding", [VOCAB, DIM], partitioner=v1.fixed_size_partitioner(parts))
        out, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.BasicLSTMCell(UNITS), v1.nn.embedding_lookup(
            emb, x, partition_strategy=strategy), dtype=tf.float32)
        logits = v1.layers.dense(out[:, -1], 2, name="dense")
        sess = legacy_rnn.new_session(graph)
        v1.train.Saver().restore(sess, prefix)
        got = sess.run([logits] + list(emb), {x: ids})
        sess.close()
    return got[0], got[1:]


@pytest.mark.parametrize("strategy", ["div", "mod"])
def test_ps_trained_embedding_round_trips_through_export_partitions(runs, tiny, tmp_path, strategy):
    from migration.cli import main

    run, info = runs("parameter-server")
    path = str(tmp_path / "trained.keras")
    model = _functional(run)
    model.save(path)
    prefix = str(tmp_path / "ps" / "model.ckpt")
    assert main(["export", path, prefix, "--partitions", "2", "--partition-strategy", strategy]) == 0
    ids = tiny[0].test_ids
    expected = np.asarray(model(ids))
    logits, parts = _tf1_logits(prefix, strategy, ids)
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    trained = np.asarray(run.model.embedding.embeddings)  # the PS shards, concatenated
    assert [list(p.shape) for p in parts] == info["embedding"]["shards"]
    if strategy == "div":  # part k IS the k-th ShardedVariable shard
        np.testing.assert_array_equal(np.concatenate(parts), trained)
    else:  # part k holds the ids = k (mod 2)
        np.testing.assert_array_equal(parts[0], trained[0::2])
        np.testing.assert_array_equal(parts[1], trained[1::2])
    # negative control: the same model exported whole restores into the 'mod' graph with the rows misread
    whole = str(tmp_path / "whole" / "model.ckpt")
    assert main(["export", path, whole]) == 0
    wrong, _ = _tf1_logits(whole, "mod", ids)
    assert np.abs(wrong - expected).max() > 1e-3


def test_export_partitions_refuses_impossible_requests(runs, tmp_path, capsys):
    from migration.cli import main

    path = str(tmp_path / "m.keras")
    _functional(runs("parameter-server")[0]).save(path)
    assert main(["export", path, str(tmp_path / "x" / "m.ckpt"), "--partitions", str(VOCAB + 1)]) == 2
    assert f"exceeds the {VOCAB} rows of embedding 'embedding'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").glob("m.ckpt*"))


def test_cli_multi_worker_json_contract(tmp_path):
    """`rnn-migrate example sentiment --strategy multi-worker --workers 2`: TF1 (one process) and Keras (2 worker
    processes) start from the same weights and see the same batches: equal mean losses."""
    from migration import datasets

    data = datasets.load_rotten_tomatoes()
    counts = Counter(w for t in data.texts for w in datasets.clean_sentence(t).split())
    rng = np.random.default_rng(0)
    glove = tmp_path / "glove.txt"
    glove.write_text("\n".join(w + " " + " ".join(f"{v:.5f}" for v in rng.normal(0, 0.5, 8))
                               for w, _ in counts.most_common(200)) + "\n", encoding="utf-8")
    # the CLI in this process (its TF1 side and its JSON are the point, not the parent's start-up: a fresh parent
    # cost one more TensorFlow import); the 2 Keras workers are still separate processes started by the command
    proc = run_cli_in_process(
        "example", "sentiment", "--side", "both", "--same-init",
        "--keep-prob", "1", "--strategy", "multi-worker", "--workers", "2", "--steps", "3", "--batch-size", "8",
        "--max-len", "6", "--glove", str(glove), "--ckpt-dir", str(tmp_path / "ck"), "--json", "--quiet",
        "--dist-timeout", "240", cwd=tmp_path)  # the bound the subprocess had: a hung worker fails, never blocks
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    d = result["distributed"]
    assert (d["strategy"], d["workers"], d["replicas"]) == ("multi-worker", 2, 2)
    assert len(d["per_worker_final_loss"]) == 2 and d["per_worker_final_loss"][0] == d["per_worker_final_loss"][1]
    assert result["modern"]["losses"] == pytest.approx([np.mean(d["step_losses"])], abs=1e-6)
    assert result["modern"]["losses"][0] == pytest.approx(result["legacy"]["losses"][0], abs=1e-3)
    assert result["modern"]["initial_eval"]["loss"] == pytest.approx(result["legacy"]["initial_eval"]["loss"], abs=1e-5)


def test_a_run_past_its_timeout_is_stopped_and_reaped(tmp_path):
    """--dist-timeout: the children are stopped (a clear error, exit 2 through the example) and none survives."""
    from migration.core.errors import MigrationError

    job = distributed.Job("multi-worker", 2, 1, 8, {}, False, distributed._cluster("multi-worker", 2), str(tmp_path))
    with open(tmp_path / "job.json", "w") as f:
        json.dump(distributed.dataclasses.asdict(job), f)
    before = set(_children())  # e.g. the sandbox child an earlier in-process convert left for reuse
    with pytest.raises(MigrationError, match="did not finish within 0 s"):
        distributed.run_children(job, timeout=0.2)
    assert set(_children()) - before == set()


PARENT = """
import json, sys
from migration.examples import distributed
with open(sys.argv[1] + "/job.json") as f:
    job = distributed.Job(**json.load(f))
role = [("servers", 0)]  # PS and worker servers never exit by themselves: the parent waits until it is killed
distributed._start_and_wait(job, role, role, {}, {}, timeout=120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def test_workers_die_with_a_parent_killed_by_sigkill(tmp_path):
    """A parent killed with SIGKILL runs no `finally`: its server child (which would serve forever) must still go
    (PR_SET_PDEATHSIG), and its ports be released."""
    job = distributed.Job("parameter-server", 2, 1, 8, {}, False, distributed._cluster("parameter-server", 2),
                          str(tmp_path))
    with open(tmp_path / "job.json", "w") as f:
        json.dump(distributed.dataclasses.asdict(job), f)
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not all(_listening(a) for a in job.cluster["ps"]):  # the servers run: the child is past its set-up
            assert parent.poll() is None and time.monotonic() < deadline, (tmp_path / "log-servers-0.txt").read_text()
            time.sleep(0.2)
        kids = [int(e) for e in os.listdir("/proc") if e.isdigit() and _ppid(int(e)) == parent.pid]
        assert len(kids) == 1 and _alive(kids[0])
        parent.kill()
        parent.wait()
        deadline, ports = time.monotonic() + 30, job.cluster["ps"] + job.cluster["worker"]
        while (_alive(kids[0]) or any(_listening(a) for a in ports)) and time.monotonic() < deadline:
            time.sleep(0.1)  # (a killed process's threads are torn down after its leader turns zombie)
        assert not _alive(kids[0]), "the server child outlived its killed parent"
        assert not [a for a in ports if _listening(a)], "a server port is still served after its parent was killed"
    finally:  # the parent's whole process group (its children included), whatever happened above
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        parent.wait()


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


@pytest.mark.parametrize("strategy, workers, batch, fragment", [
    ("multi-worker", 3, 8, "multiple of the workers"), ("mirrored", 0, 8, "[1, 8]"), ("ring", 2, 8, "strategy")])
def test_bad_distribution_requests_are_refused(strategy, workers, batch, fragment):
    from migration.core.errors import MigrationError

    with pytest.raises(MigrationError) as err:
        distributed.validate(strategy, workers, batch)
    assert fragment in str(err.value)
