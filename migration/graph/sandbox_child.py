"""The sandbox child: runs requests of :mod:`migration.graph.worker` under its own resource limits.

Started with ``python -I`` (no current directory on ``sys.path``), in its own session, with
``PR_SET_PDEATHSIG(SIGKILL)`` (it dies with its parent, even one killed outright) and no core dumps. For each request
it sets ``RLIMIT_AS`` and ``RLIMIT_CPU`` (counted from the request's start), imports the sub-``GraphDef`` into a fresh
``tf.Graph`` and runs it. It writes ``out-K.npy`` files and one JSON line; any error becomes a JSON reply with its
kind (``memory``, ``assert``, ``tf``). Only JSON, protobuf and ``.npy`` (``allow_pickle=False``) cross the boundary.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import sys
from typing import Any


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - the parent's kill on exit still applies
            pass
    expected = os.environ.get("RNN_MIGRATE_SANDBOX_PARENT")
    if expected and os.getppid() != int(expected):
        raise SystemExit("the parent process is gone")


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _limit(address_space: int, cpu_seconds: float) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = address_space if hard == resource.RLIM_INFINITY else min(address_space, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cpu = int(_cpu_used() + cpu_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu if hard == resource.RLIM_INFINITY else min(cpu, hard), hard))


def _load(req: str, entry: dict):
    import numpy as np

    from migration.graph.reference import zero_buffer

    base = os.path.join(req, os.path.basename(str(entry["file"])))
    if not entry.get("sparse"):
        return np.load(base + ".npy", allow_pickle=False)
    value = zero_buffer(tuple(int(d) for d in entry["shape"]), np.dtype(str(entry["dtype"])))
    index = np.load(base + ".index.npy", allow_pickle=False)
    if len(index):
        value[index] = np.load(base + ".rows.npy", allow_pickle=False)
    return value


def _run(req: str) -> int:
    """Run the request in ``req``; returns how many outputs were written."""
    import numpy as np
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2

    v1 = tf.compat.v1
    with open(os.path.join(req, "request.json")) as f:
        spec = json.load(f)
    sub = graph_pb2.GraphDef()
    with open(os.path.join(req, "graph.pb"), "rb") as f:
        sub.ParseFromString(f.read())
    fetches = [str(t) for t in spec["fetches"]]
    graph = tf.Graph()
    with graph.as_default():
        input_map, feed = {}, {}
        for entry in spec["mapped"]:
            value = _load(req, entry)
            ph = v1.placeholder(tf.as_dtype(value.dtype), value.shape)
            input_map[str(entry["name"])], feed[ph] = ph, value
        fed = [(str(e["name"]) + ":0", _load(req, e)) for e in spec["fed"]]
        handles = [str(e["name"]) + ":0" for e in spec["assigned"]]
        outs = v1.import_graph_def(sub, input_map=input_map, name="original",
                                   return_elements=fetches + handles + [name for name, _ in fed])
        for tensor, (_, value) in zip(outs[len(fetches) + len(handles):], fed):
            feed[tensor] = value
        assigns = []
        for entry, handle in zip(spec["assigned"], outs[len(fetches): len(fetches) + len(handles)]):
            value = _load(req, entry)
            ph = v1.placeholder(tf.as_dtype(value.dtype), value.shape)
            feed[ph] = value
            assigns.append(tf.raw_ops.AssignVariableOp(resource=handle, value=ph))
        with v1.Session(graph=graph, config=_session_config(v1)) as sess:
            if assigns:
                sess.run(assigns, feed)
            results = sess.run(outs[: len(fetches)], feed)
    for k, value in enumerate(results):
        np.save(os.path.join(req, f"out-{k}.npy"), np.asarray(value), allow_pickle=False)
    return len(results)


def _session_config(v1):
    """The graph runs as written: no Grappler rewrites and no classic graph optimizer (constant folding, common
    subexpressions). Each request is a new graph run once, where those passes cost far more than the run (a program
    of 16 RNN blocks: 0.7 s optimizing, 0.1 s running); the outputs are the same (tests/checkpoint/test_sandbox.py)."""
    config = v1.ConfigProto()
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    config.graph_options.optimizer_options.opt_level = v1.OptimizerOptions.L0
    return config


def _error(exc: BaseException) -> dict[str, Any]:
    import tensorflow as tf

    if isinstance(exc, MemoryError):
        return {"ok": False, "kind": "memory", "message": "MemoryError"}
    if isinstance(exc, tf.errors.OpError):
        op = getattr(exc, "op", None)
        node = op.name[len("original/"):] if op is not None and op.name.startswith("original/") else \
            (op.name if op is not None else "")
        if isinstance(exc, tf.errors.ResourceExhaustedError):
            return {"ok": False, "kind": "memory", "message": f"at node {node!r}: {_first_line(exc)}"}
        if op is not None and op.type == "Assert":
            return {"ok": False, "kind": "assert", "node": node, "message": _first_line(exc)}
        return {"ok": False, "kind": "tf", "message": f"{type(exc).__name__} at node {node!r}: {_first_line(exc)}"}
    return {"ok": False, "kind": "tf", "message": f"{type(exc).__name__}: {_first_line(exc)}"}


_NOISE = ("Graph execution error", "Detected at node", "File ", "Node:", "[[", "Op:", "Traceback")


def _first_line(exc: BaseException) -> str:
    """TensorFlow's own words (the OOM / assertion / shape message), without its Python stack of the import."""
    text = getattr(exc, "message", None) or str(exc)
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(_NOISE) and not ln.startswith(("self.", "return ", "ret "))]
    return ((useful or lines or [type(exc).__name__])[0])[:500]


def main() -> None:
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    reply = os.fdopen(os.dup(1), "w")  # the protocol; anything a library prints goes to the log
    os.dup2(2, 1)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import migration.core.gc_tuning
    import migration.core.op_traces
    import migration.core.tf_env  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    migration.core.tf_env.skip_optional_imports()  # a faster start: TensorFlow's import without jax/pandas/scipy
    migration.core.gc_tuning.tune()  # fewer garbage-collector passes while graphs are imported
    migration.core.op_traces.skip()  # graph ops without a recorded Python stack (nothing here reads them)
    import tensorflow  # noqa: F401  (once, before the first request)

    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    for line in sys.stdin:
        go = json.loads(line)
        _limit(int(go["address_space"]), float(go["cpu_seconds"]))
        try:
            answer: dict[str, Any] = {"ok": True, "n": _run(str(go["dir"]))}
        except Exception as exc:  # noqa: BLE001 - every failure is a reply; the parent decides
            answer = _error(exc)
        reply.write(json.dumps(answer) + "\n")
        reply.flush()


if __name__ == "__main__":  # pragma: no cover
    main()
