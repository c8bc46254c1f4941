"""Train an example's Keras 2 model under ``tf.distribute``: one process, mirrored replicas, several worker processes,
or parameter servers, all on this machine (``127.0.0.1`` only).

``--strategy``:

* ``none``: the example's own single-process loop (``train_modern``);
* ``mirrored``: ``MirroredStrategy`` over ``--workers`` logical CPU devices of one child process
  (``tf.config.set_logical_device_configuration`` must run before TensorFlow starts, hence the child);
* ``multi-worker``: ``MultiWorkerMirroredStrategy`` with ``--workers`` child processes, each given ``TF_CONFIG``
  (``{"cluster": {"worker": ["127.0.0.1:PORT", ...]}, "task": {"type": "worker", "index": k}}``) on free ports;
* ``parameter-server``: ``ParameterServerStrategy``: 2 PS servers and ``--workers`` worker servers
  (``tf.distribute.Server``, each its own gRPC server and port, hosted by one child process) and a chief child that
  runs the ``ClusterCoordinator``. The embedding is a
  ``ShardedVariable`` over the PS tasks (a partitioner that shards only the embedding's shape: a partitioned kernel
  of tf_keras ``LSTM`` fails under this strategy, see ``docs/scaling.md``).

The same global batches as the single-process run: synchronous replicas each take a contiguous slice of the global
batch, scale their loss by the GLOBAL batch size (sum of per-example losses / B) and the gradients are summed across
replicas, which is the gradient of the single-process mean loss. The parameter-server run schedules one step at a
time (each step waits for the previous one), so it is synchronous too. Dropout is data as well
(``sentiment.dropout_masks``: drawn from the seed and the global step, each replica applying the rows of its slice),
so the equality holds with dropout on: the same seed gives the same losses under every ``--strategy``.

The parent process builds the model (seeded), hands its initial weights and the materialized batches to the
children through ``.npz`` files (``allow_pickle=False``), reaps every child (timeouts, ``finally``), and evaluates
the trained weights on the held-out split itself. JSON: ``"distributed": {"strategy", "workers",
"per_worker_final_loss", "step_losses", ...}``.

Two models can be trained: the sentiment example's Keras twin (``build_modern_model``), or, given a
:class:`Resume`, a converted whole model (``model.keras`` of ``convert --with-optimizer``) with its converted
optimizer state, continuing the batch schedule at a global step: ``rnn-migrate demo --strategy``. Each child then
loads that model and state itself, inside ``strategy.scope()``, with the demo's own loader
(:func:`migration.examples.converted.load_converted_model`).
"""
from __future__ import annotations

import argparse
import ctypes
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from migration.core.errors import MigrationError
from migration.core.signals import signals_raise
from migration.examples import sentiment
from migration.safe_io import load_block_model

STRATEGIES = ("none", "mirrored", "multi-worker", "parameter-server")
PS_TASKS = 2  # parameter servers (= shards of the embedding) of the parameter-server strategy
HOST = "127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser, train_embedding: bool = True) -> None:
    """``--strategy``, ``--workers``, ``--train-embedding`` (unless ``train_embedding`` is False: a converted model
    keeps its own trainable flags) and ``--dist-timeout`` for an example's parser."""
    parser.add_argument("--strategy", choices=STRATEGIES, default="none",
                        help="train the Keras model under tf.distribute on this machine (default none)")
    parser.add_argument("--workers", type=int, default=2,
                        help="replicas (mirrored) or worker processes (multi-worker, parameter-server); default 2")
    if train_embedding:
        parser.add_argument("--train-embedding", action="store_true",
                            help="fine-tune the embedding rows too (under parameter-server a ShardedVariable)")
    parser.add_argument("--dist-timeout", type=float, default=600.0,
                        help="seconds before the worker processes are stopped (default 600)")


@dataclasses.dataclass
class Job:
    """What the children need: strategy, sizes, the sentiment config and where the arrays are."""

    strategy: str
    workers: int
    steps: int
    batch_size: int
    config: dict
    train_embedding: bool
    cluster: dict
    directory: str
    fault: str = "none"
    converted: str = ""  # a convert output directory: train its model.keras with its optimizer state (see Resume)
    shard_shapes: list = dataclasses.field(default_factory=list)  # variable shapes sharded over the PS tasks


@dataclasses.dataclass
class Resume:
    """Continue training a converted whole model: ``model`` (a ``WholeModel``) and ``optimizer`` as
    :func:`migration.examples.converted.load_converted_model` loaded them from ``out_dir``; batches from
    ``start_step`` on."""

    out_dir: str
    model: Any
    optimizer: Any
    start_step: int


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (bound together, then released for the servers)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _cluster(strategy: str, workers: int) -> dict:
    if strategy == "multi-worker":
        return {"worker": [f"{HOST}:{p}" for p in free_ports(workers)]}
    if strategy == "parameter-server":
        ports = free_ports(workers + PS_TASKS + 1)
        return {"chief": [f"{HOST}:{ports[0]}"], "worker": [f"{HOST}:{p}" for p in ports[1:1 + workers]],
                "ps": [f"{HOST}:{p}" for p in ports[1 + workers:]]}
    return {}


def validate(strategy: str, workers: int, batch_size: int) -> None:
    if strategy not in STRATEGIES:
        raise MigrationError(f"Received an invalid value for `strategy`: expected one of {STRATEGIES}, got {strategy!r}.")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 8:
        raise MigrationError(f"Received an invalid value for `workers`: expected an integer in [1, 8], got {workers!r}.")
    if strategy in ("mirrored", "multi-worker") and batch_size % workers:
        raise MigrationError(f"Received --batch-size {batch_size} with --workers {workers}: synchronous replicas split "
                             f"the global batch evenly, so the batch size must be a multiple of the workers.")


# --- parent ----------------------------------------------------------------------------------------------------------

def train_modern(args: argparse.Namespace, config, initial_weights: Optional[Mapping[str, np.ndarray]],
                 prepared, fault: str = "none", resume: Optional[Resume] = None) -> tuple[Any, dict]:
    """The example's modern training under ``args.strategy``: returns (``ModernRun``, the JSON ``distributed`` dict).

    ``resume``: train the converted whole model with its optimizer state instead of a new sentiment model (then
    ``initial_weights`` must be None); each child process loads the same files from ``resume.out_dir``.

    ``fault="unsharded"`` gives every replica the FIRST slice of the global batch (the classic multi-worker bug of
    an input pipeline that is not sharded per worker); it exists for the negative control of the tests. (Dividing
    each replica's loss by its own batch instead of the global one, the other classic bug, multiplies the gradient
    by R, which Adam's update m / sqrt(v) does not see; it shows with SGD.)"""
    from modern_rnn import tf  # TensorFlow on first use: --help and argument checks start fast

    strategy, workers = args.strategy, args.workers
    validate(strategy, workers, config.batch_size)
    tf.random.set_seed(config.seed)
    if resume is None:
        model, optimizer, start_step = sentiment.build_modern_model(config, prepared.matrix), None, 0
        if initial_weights is not None:
            sentiment.load_tf1_weights(model, initial_weights, config.units)
        model.embedding.trainable = bool(args.train_embedding)
        weights, shard = get_layer_weights(model), [list(prepared.matrix.shape)]
    else:
        if initial_weights is not None:
            raise MigrationError("a resumed converted model starts from its own weights, not initial_weights")
        model, optimizer, start_step = resume.model, resume.optimizer, resume.start_step
        weights, shard = {}, [list(v.shape) for v in embedding_variables(model)]
    if strategy == "none":
        run = sentiment.train_modern(config, None, prepared, model=model, optimizer=optimizer, start_step=start_step)
        return run, {"strategy": "none", "workers": 1, "replicas": 1, "per_worker_final_loss": [run.losses[-1]],
                     "step_losses": list(run.losses)}
    batches = sentiment.batch_indices(prepared.train_labels, config.batch_size, config.steps, config.seed, start_step)
    with tempfile.TemporaryDirectory(prefix="rnn-migrate-dist-") as directory:
        np.savez(os.path.join(directory, "data.npz"), ids=prepared.train_ids[batches],
                 lengths=prepared.train_lengths[batches], labels=prepared.train_labels[batches],
                 noise=sentiment.dropout_masks(config, start_step), **weights)
        job = Job(strategy, workers, config.steps, config.batch_size, dataclasses.asdict(config),
                  bool(getattr(args, "train_embedding", False)), _cluster(strategy, workers), directory, fault,
                  os.path.abspath(resume.out_dir) if resume else "", shard)
        with open(os.path.join(directory, "job.json"), "w") as f:
            json.dump(dataclasses.asdict(job), f)
        began = time.perf_counter()
        results = run_children(job, timeout=args.dist_timeout)
        seconds = time.perf_counter() - began
        with np.load(os.path.join(directory, "weights.npz"), allow_pickle=False) as data:
            trained = {k: data[k] for k in data.files}
    initial_eval = evaluate(model, config, prepared)
    (set_layer_weights if resume is None else set_all_weights)(model, trained)
    final = evaluate(model, config, prepared)
    chief = results[0]
    run = sentiment.ModernRun(chief["losses"], final["accuracy"], final["loss"], initial_eval, seconds, model)
    info = {"strategy": strategy, "workers": workers, "replicas": chief["replicas"],
            "per_worker_final_loss": [r["final_loss"] for r in results[1:]] if strategy == "parameter-server"
            else [v for r in results for v in r["final_local_losses"]],
            "step_losses": chief["losses"], "cluster": job.cluster, "seconds": seconds}
    if "embedding" in chief:
        info["embedding"] = chief["embedding"]
    return run, info


LAYERS = ("embedding", "lstm", "dense")


def get_layer_weights(model) -> dict[str, np.ndarray]:
    """``{"embedding_0": rows, "lstm_0": kernel, ...}``: a ``ShardedVariable`` embedding is concatenated (its shards
    are contiguous row blocks, the ``'div'`` layout)."""
    out = {}
    for name in LAYERS:
        layer = getattr(model, name)
        if name == "embedding":
            var = layer.embeddings
            parts = getattr(var, "variables", None)
            out["embedding_0"] = np.concatenate([np.asarray(p) for p in parts], 0) if parts else np.asarray(var)
            continue
        for i, w in enumerate(layer.get_weights()):
            out[f"{name}_{i}"] = w
    return out


def set_layer_weights(model, weights: Mapping[str, np.ndarray]) -> None:
    """Inverse of :func:`get_layer_weights` (``ShardedVariable.assign`` splits the rows over the shards)."""
    for name in LAYERS:
        layer = getattr(model, name)
        if name == "embedding":
            layer.embeddings.assign(weights["embedding_0"])
            continue
        layer.set_weights([weights[f"{name}_{i}"] for i in range(len(layer.weights))])


def embedding_variables(model) -> list:
    """The embedding tables of ``model``: the sentiment model's ``embedding``, or every ``Embedding`` layer's
    ``embeddings`` of a converted whole model (the demo's ``WholeModel`` wraps it as ``.model``)."""
    if hasattr(model, "embedding"):
        return [model.embedding.embeddings]
    inner = getattr(model, "model", model)
    return [layer.embeddings for layer in inner.layers if hasattr(layer, "embeddings")]


def _array(var) -> np.ndarray:
    parts = getattr(var, "variables", None)  # a ShardedVariable: its shards are contiguous row blocks ('div')
    return np.concatenate([np.asarray(p) for p in parts], 0) if parts else np.asarray(var)


def get_all_weights(model) -> dict[str, np.ndarray]:
    """``{"L.i": ...}``: weight ``i`` of layer ``L`` of a converted whole model, every layer (an embedding held as a
    ``ShardedVariable`` is one array, its shards concatenated)."""
    out = {}
    for k, layer in enumerate(getattr(model, "model", model).layers):
        values = [_array(layer.embeddings)] if hasattr(layer, "embeddings") else layer.get_weights()
        out.update({f"{k}.{i}": v for i, v in enumerate(values)})
    return out


def set_all_weights(model, weights: Mapping[str, np.ndarray]) -> None:
    """Inverse of :func:`get_all_weights`."""
    layers = getattr(model, "model", model).layers
    for k, layer in enumerate(layers):
        values = [weights[f"{k}.{i}"] for i in range(len(layer.weights)) if f"{k}.{i}" in weights]
        if len(values) != len(layer.weights):
            raise MigrationError(f"the trained weights do not fit layer {layer.name!r} of the model")
        if hasattr(layer, "embeddings"):
            layer.embeddings.assign(values[0])
        elif values:
            layer.set_weights(values)
    if len(weights) != sum(len(layer.weights) for layer in layers):
        raise MigrationError(f"the trained model has {len(weights)} weights, not the "
                             f"{sum(len(layer.weights) for layer in layers)} of this one")


def evaluate(model, config, prepared) -> dict:
    return sentiment.evaluate(sentiment.keras_eval_batch(model), prepared.test_ids, prepared.test_lengths,
                               prepared.test_labels)


PARENT_ENV = "RNN_MIGRATE_DIST_PARENT"  # the pid a child must die with (see _die_with_parent)


def _child_env(extra: dict) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # holds migration/
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env[PARENT_ENV] = str(os.getpid())
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_children(job: Job, timeout: float) -> list[dict]:
    """Start the child processes of ``job``, wait for the trainers (chief/workers) and reap everything.

    Returns the trainers' results (``result-<role>-<k>.json``): the chief first for parameter-server."""
    roles: list[tuple[str, int]]
    if job.strategy == "mirrored":
        roles = [("mirrored", 0)]
    elif job.strategy == "multi-worker":
        roles = [("worker", k) for k in range(job.workers)]
    else:
        roles = [("servers", 0), ("chief", 0)]  # one process hosts the PS and worker servers (gRPC on 127.0.0.1)
    trainers = [r for r in roles if job.strategy != "parameter-server" or r[0] == "chief"]
    procs: dict[tuple[str, int], subprocess.Popen] = {}
    logs = {}
    with signals_raise():  # SIGTERM/SIGHUP/SIGINT raise here, so the finally below reaps every child
        _start_and_wait(job, roles, trainers, procs, logs, timeout)
    results = []
    for role, k in trainers:
        with open(os.path.join(job.directory, f"result-{role}-{k}.json")) as f:
            results.append(json.load(f))
    if job.strategy == "parameter-server":
        results = results + [{"task": k, "final_loss": v} for k, v in enumerate(results[0]["per_worker_final_loss"])]
    return results


def _start_and_wait(job: Job, roles, trainers, procs: dict, logs: dict, timeout: float) -> None:
    """Start every child, wait for the trainers, and (always) stop and reap whatever still runs."""
    try:
        for role, k in roles:
            tf_config = {"cluster": job.cluster, "task": {"type": role, "index": k}} if job.cluster else None
            env = _child_env({"TF_CONFIG": json.dumps(tf_config)} if tf_config else {})
            if tf_config is None:  # a TF_CONFIG of the user's shell must not turn the mirrored child into a worker
                env.pop("TF_CONFIG", None)
            log = open(os.path.join(job.directory, f"log-{role}-{k}.txt"), "w")
            logs[(role, k)] = log
            procs[(role, k)] = subprocess.Popen(
                [sys.executable, "-m", "migration.examples.distributed", job.directory, role, str(k)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + timeout
        for key in trainers:
            while procs[key].poll() is None:
                if time.monotonic() > deadline:
                    raise MigrationError(f"the {job.strategy} run did not finish within {timeout:.0f} s "
                                         f"(--dist-timeout); every worker process was stopped")
                failed = [k for k, p in procs.items() if p.poll() not in (None, 0)]
                if failed:
                    break
                time.sleep(0.05)
            failed = [k for k, p in procs.items() if p.poll() not in (None, 0)]
            if failed:
                role, k = failed[0]
                raise MigrationError(f"{job.strategy}: the {role} process {k} failed (exit {procs[failed[0]].returncode}):"
                                     f"\n{_tail(os.path.join(job.directory, f'log-{role}-{k}.txt'))}")
    finally:
        for p in procs.values():  # servers never exit by themselves; anything left is stopped and reaped
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in logs.values():
            log.close()


def _tail(path: str, n: int = 3000) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return "(no log)"


# --- children --------------------------------------------------------------------------------------------------------

def _die_with_parent() -> None:
    """Even a parent killed with SIGKILL (no ``finally``) leaves no worker behind: on Linux the kernel sends this
    child SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); a parent already gone ends the child now. (A
    PS server child would otherwise serve forever.)"""
    expected = os.environ.get(PARENT_ENV)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the parent's finally still reaps
            pass
    if expected and os.getppid() != int(expected):
        raise SystemExit(f"the parent process {expected} is gone; not starting")


def _child(directory: str, role: str, index: int) -> int:
    _die_with_parent()
    import migration.core.gc_tuning
    import migration.core.op_traces
    import migration.core.tf_env  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    migration.core.tf_env.skip_optional_imports()  # a faster start: TensorFlow's import without jax/pandas/scipy
    migration.core.gc_tuning.tune()  # fewer garbage-collector passes while graphs are built
    migration.core.op_traces.skip()  # graph ops without a recorded Python stack (nothing here reads them)

    with open(os.path.join(directory, "job.json")) as f:
        job = Job(**json.load(f))
    import tensorflow as tf

    if role == "servers":  # every PS and worker task of the cluster, each its own gRPC server
        spec = tf.train.ClusterSpec(job.cluster)
        servers = [tf.distribute.Server(spec, job_name=name, task_index=k, protocol="grpc", start=True)
                   for name in ("ps", "worker") for k in range(len(job.cluster[name]))]
        servers[0].join()  # until the parent stops this process
        return 0
    tf.config.threading.set_intra_op_parallelism_threads(1)
    with np.load(os.path.join(directory, "data.npz"), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    if job.strategy == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * job.workers)
        strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(job.workers)])
    elif job.strategy == "multi-worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        shard_shapes = {tuple(s) for s in job.shard_shapes}

        def partitioner(shape, dtype):  # only the embeddings are sharded (docs/scaling.md: the LSTM kernel limit)
            return [PS_TASKS, 1] if tuple(shape) in shard_shapes else [1] * len(shape)

        strategy = tf.distribute.experimental.ParameterServerStrategy(
            tf.distribute.cluster_resolver.TFConfigClusterResolver(), variable_partitioner=partitioner)
    result = _train(tf, strategy, job, directory, arrays)
    with open(os.path.join(directory, f"result-{role}-{index}.json"), "w") as f:
        json.dump(result, f)
    return 0


def _train(tf, strategy, job: Job, directory: str, arrays: dict) -> dict:
    from modern_rnn import keras  # TensorFlow on first use

    config = sentiment.SentimentConfig(**job.config)
    ps = job.strategy == "parameter-server"
    global_batch = job.batch_size
    replicas = strategy.num_replicas_in_sync
    plain = _load_whole_model(job.converted) if job.converted and ps else None  # outside the scope, see below
    with strategy.scope():
        if job.converted:  # the converted whole model and optimizer state, loaded as the demo loads them
            # (the checkpoint package on first use: the demo's --help imports this module and must start fast)
            from migration.examples.converted import load_converted_model

            model, optimizer, _, _ = load_converted_model(Path(job.converted),
                                                               None if plain is None else _rebuild(plain))
        else:
            model = sentiment.build_modern_model(config, arrays["embedding_0"])
            model.embedding.trainable = job.train_embedding
            set_layer_weights(model, arrays)
            optimizer = keras.optimizers.Adam(config.learning_rate, epsilon=1e-8)

    masked = getattr(model, "takes_dropout_mask", False)  # the same dropout rows as one process (dropout_masks)

    def replica_step(ids, lengths, labels, noise):
        with tf.GradientTape() as tape:
            logits = model((ids, lengths, noise) if masked else (ids, lengths), training=True)
            per_example = keras.losses.categorical_crossentropy(labels, logits, from_logits=True)
            loss = tf.reduce_sum(per_example) / global_batch  # the single-process mean, summed over replicas
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        if ps:
            return loss
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, loss)  # each one's view

    @tf.function
    def train_step(ids, lengths, labels, noise):
        return strategy.experimental_local_results(strategy.run(replica_step, args=(ids, lengths, labels, noise)))

    def step_inputs(s: int):
        ids, lengths, noise = arrays["ids"][s], arrays["lengths"][s], arrays["noise"][s]
        labels = np.eye(sentiment.NUM_CLASSES, dtype=np.float32)[arrays["labels"][s]]
        if ps:
            return ids, lengths, labels, noise
        per = global_batch // replicas

        def value(ctx):
            r = ctx.replica_id_in_sync_group if job.fault != "unsharded" else 0
            return tuple(tf.constant(a[r * per:(r + 1) * per]) for a in (ids, lengths, labels, noise))

        return strategy.experimental_distribute_values_from_function(value)

    losses: list[float] = []
    if ps:
        coordinator = tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)
        for s in range(job.steps):  # one step at a time: synchronous, the single-process sequence of updates
            losses.append(float(coordinator.schedule(train_step, args=step_inputs(s)).fetch()[0]))
        local = [losses[-1]]
    else:
        for s in range(job.steps):
            local = [float(v) for v in train_step(*step_inputs(s))]
            losses.append(local[0])
    result: dict = {"losses": losses, "final_loss": losses[-1], "final_local_losses": local, "replicas": replicas,
                    "task": json.loads(os.environ.get("TF_CONFIG", "null"))}
    if ps:
        for emb in embedding_variables(model)[:1]:  # the first embedding table (a model may have none)
            result["embedding"] = {"class": type(emb).__name__,
                                   "shards": [list(v.shape) for v in getattr(emb, "variables", [emb])],
                                   "devices": [v.device for v in getattr(emb, "variables", [emb])]}
        result["per_worker_final_loss"] = _loss_on_each_worker(tf, model, job, arrays, keras)
    if not ps and strategy.cluster_resolver is not None and strategy.cluster_resolver.task_id != 0:
        return result
    np.savez(os.path.join(directory, "weights.npz"),
             **(get_all_weights(model) if job.converted else get_layer_weights(model)))
    return result


def _load_whole_model(out_dir: str):
    from migration.checkpoint.manifest import read_manifest  # on first use (see migration.examples)

    return load_block_model(out_dir, read_manifest(out_dir)["model"]["file"])


def _rebuild(plain):
    """``plain`` (loaded outside any strategy) rebuilt in the current strategy's scope with its weights copied: the
    ``.keras`` loader cannot fill the ``ShardedVariable`` a ``variable_partitioner`` makes of an embedding (it
    expects one variable per shard), ``ShardedVariable.assign`` splits the full rows over the shards."""
    from modern_rnn import keras

    model = keras.models.clone_model(plain)
    for src, dst in zip(plain.layers, model.layers):
        if src.name != dst.name:
            raise MigrationError(f"rebuilding the whole model changed layer {src.name!r} into {dst.name!r}")
        if hasattr(dst, "embeddings"):
            dst.embeddings.assign(np.asarray(src.embeddings))
        else:
            dst.set_weights(src.get_weights())
    return model


def _loss_on_each_worker(tf, model, job: Job, arrays: dict, keras) -> list[float]:
    """The trained model's loss on the last global batch, computed ON each worker task (variables read from the PS):
    every worker sees the same trained variables."""
    s = job.steps - 1
    ids, lengths = arrays["ids"][s], arrays["lengths"][s]
    labels = np.eye(sentiment.NUM_CLASSES, dtype=np.float32)[arrays["labels"][s]]

    @tf.function
    def loss_fn():
        logits = model((ids, lengths), training=False)
        return tf.reduce_mean(keras.losses.categorical_crossentropy(labels, logits, from_logits=True))

    out = []
    for k in range(job.workers):
        with tf.device(f"/job:worker/replica:0/task:{k}"):
            out.append(float(loss_fn()))
    return out


if __name__ == "__main__":  # a child: python -m migration.examples.distributed DIR ROLE INDEX
    raise SystemExit(_child(sys.argv[1], sys.argv[2], int(sys.argv[3])))
