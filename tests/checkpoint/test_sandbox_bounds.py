"""Issue 20, finding 3 (and 7's Assert and nested func attr): graphs of allowlisted ops that hang, exhaust memory or
crash TensorFlow. The original graph runs in a child process under RLIMIT_AS / RLIMIT_CPU and a wall-time bound
(``migration.graph.worker``); structure (call depth, recursion, every function reachable through any attribute,
the size of generated inputs) is checked before anything runs (``migration.graph.limits``). Each hostile case gets
a clean MigrationError naming what was over which limit; a clean fetch of the same graph still runs afterwards (the
child is restarted after a kill). Small limits keep every case short."""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import hostile_graphs as h
from conftest import run_cli

X = np.random.default_rng(0).normal(size=(2, h.T, h.D)).astype(np.float32)


def _original(prefix: str):
    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.reference import OriginalGraph

    return OriginalGraph(prefix + ".meta", CheckpointReader(prefix))


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_WALL", "20")
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_CPU", "30")
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_AS", "6G")


def _clean_fetch_still_runs(og) -> None:
    (head,) = og.run(["head/BiasAdd:0"], {"x": X})
    assert head.shape == (2, 2) and np.all(np.isfinite(head))


# -- resource limits (the child) ------------------------------------------------------------------------------------

def test_a_loop_that_never_ends_stops_at_the_wall_limit_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """``convert`` (the block's reference run needs the loop: it feeds the RNN's initial state): exit 2 naming the
    wall-time limit and its variable, no traceback, no OUT and no ``.out.tmp-*``; today it hangs for ever."""
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_WALL", "1")  # the child spins for the whole limit: keep it short
    prefix = h.build(tmp_path / "src", state_hook=h.forever)  # (the first request of convert is the hanging one)
    start = time.monotonic()
    assert run_cli("convert", prefix, tmp_path / "out", "--quiet") == 2
    err = capsys.readouterr().err
    assert "wall-time limit (1 s)" in err and "RNN_MIGRATE_SANDBOX_WALL" in err and "Traceback" not in err, err
    assert time.monotonic() - start < 120
    assert not (tmp_path / "out").exists() and not glob.glob(str(tmp_path / ".out*"))


def test_a_loop_that_never_ends_stops_at_the_cpu_limit(tmp_path, monkeypatch):
    from migration.graph.limits import SandboxLimit

    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_CPU", "1")  # the child spins for the whole limit: keep it short
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_WALL", "60")
    og = _original(h.build(tmp_path / "src", logits_hook=h.forever))
    with pytest.raises(SandboxLimit, match="CPU-time limit") as info:
        og.run(["logits:0"], {"x": X})
    assert "RNN_MIGRATE_SANDBOX_CPU" in str(info.value)
    _clean_fetch_still_runs(og)  # a new child


@pytest.mark.parametrize("hook, node", [(h.huge_fill([2 ** 20, 2 ** 20, 16]), "huge_fill"),
                                        (h.huge_fill([2 ** 16, 2 ** 16, 16]), "huge_fill"),
                                        (h.huge_range, "huge_range")], ids=["fill_64TiB", "fill_256GiB", "range_8TiB"])
def test_huge_allocations_stop_at_the_address_space_limit(tmp_path, small_limits, hook, node):
    """``Fill([2**20, 2**20, 16])`` (the issue's case) and ``Fill([2**16, 2**16, 16])`` with a size known only at run
    time, ``Range(0, 2**40)`` (8 TiB): the child's allocation fails under its RLIMIT_AS; today an OOM traceback (or
    the machine's memory). The child caught the failed allocation and answered: it serves the next request (no
    second TensorFlow start)."""
    from migration.graph import worker
    from migration.graph.limits import SandboxLimit

    og = _original(h.build(tmp_path / "src", logits_hook=hook))
    _clean_fetch_still_runs(og)
    pid = worker.worker().proc.pid
    with pytest.raises(SandboxLimit, match="address-space limit") as info:
        og.run(["logits:0"], {"x": X})
    assert "RNN_MIGRATE_SANDBOX_AS" in str(info.value) and f"at node '{node}" in str(info.value)
    _clean_fetch_still_runs(og)
    assert worker.worker().proc.pid == pid  # the same child


def test_a_huge_constant_fill_is_a_clear_error_and_is_not_folded_by_the_translator(tmp_path, small_limits):
    """The same Fill with constant sizes: a clear error naming the node (the sandbox runs the graph as written, without
    constant folding, so the allocation fails under the address-space limit), and the whole-model translator does not
    fold it in this process (it would allocate 64 TiB here)."""
    from migration.core.errors import MigrationError
    from migration.graph.to_keras import MAX_FOLDED_ELEMENTS, ModelTranslator

    og = _original(h.build(tmp_path / "src", logits_hook=h.huge_constant_fill))
    with pytest.raises(MigrationError, match="huge_const_fill"):
        og.run(["logits:0"], {"x": X})
    translator = ModelTranslator(og, [])
    assert translator.value("huge_const_fill:0") is None  # never allocated in this process
    assert str(MAX_FOLDED_ELEMENTS) in translator.blockers["huge_const_fill"]


def test_an_always_failing_assert_names_its_node(tmp_path, small_limits):
    from migration.graph.limits import GraphAssertionFailed

    from migration.graph import worker

    og = _original(h.build(tmp_path / "src", logits_hook=h.failing_assert))
    _clean_fetch_still_runs(og)
    pid = worker.worker().proc.pid
    with pytest.raises(GraphAssertionFailed, match="assertion failed at node 'never_true") as info:
        og.run(["logits:0"], {"x": X})
    assert info.value.node.startswith("never_true")
    _clean_fetch_still_runs(og)
    assert worker.worker().proc.pid == pid  # the child answered, and serves the next request


# -- structure (this process, before anything runs) -----------------------------------------------------------------

@pytest.mark.parametrize("edit, pattern", [
    (h.chain(3000), "call each other 3000 deep, over the limit of 64"),
    (h.recursive, "function 'self_recursive' calls itself"),
    (h.mutually_recursive, "calls itself \\((ping -> pong -> ping|pong -> ping -> pong)\\)"),
], ids=["chain_3000", "self_recursive", "mutually_recursive"])
def test_deep_or_recursive_functions_are_refused_before_anything_runs(tmp_path, edit, pattern):
    from migration.graph.limits import GraphTooComplex

    prefix = h.build(tmp_path / "src")
    h.edit_meta(prefix, edit)
    og = _original(prefix)
    with pytest.raises(GraphTooComplex, match=pattern):
        og.run(["logits:0"], {"x": X})
    _clean_fetch_still_runs(og)


def test_a_short_function_chain_runs_and_computes_the_same_logits(tmp_path):
    """Control: a chain of 5 Identity functions is under the limit, runs, and passes the head through unchanged."""
    prefix = h.build(tmp_path / "src")
    h.edit_meta(prefix, h.chain(5))
    og = _original(prefix)
    logits, head = og.run(["logits:0", "head/BiasAdd:0"], {"x": X})
    np.testing.assert_array_equal(logits, head)


def test_the_depth_limit_is_configurable(tmp_path, monkeypatch):
    from migration.graph.limits import GraphTooComplex

    prefix = h.build(tmp_path / "src")
    h.edit_meta(prefix, h.chain(5))
    monkeypatch.setenv("RNN_MIGRATE_SANDBOX_DEPTH", "4")
    with pytest.raises(GraphTooComplex, match="5 deep, over the limit of 4"):
        _original(prefix).run(["logits:0"], {"x": X})


def test_a_function_named_inside_another_func_attr_is_walked_and_refused(tmp_path):
    """``outer`` calls what its caller passes in a func attribute nested inside ``f``; that function (``evil``:
    a ReadFile) must be checked like any other. Today the walker does not see it."""
    from migration.graph.sandbox import SandboxRefusal

    prefix = h.build(tmp_path / "src")
    h.edit_meta(prefix, h.nested_func_attr)
    og = _original(prefix)
    with pytest.raises(SandboxRefusal) as info:
        og.run(["logits:0"], {"x": X})
    assert info.value.op == "ReadFile" and info.value.function == "evil"
    names, functions = og.closure(["logits:0"], ["x"])
    assert {"outer", "evil"} <= set(functions)  # with the RNN loop's body and cond


def test_a_placeholder_shape_edited_to_a_billion_is_refused_before_allocation(tmp_path, capsys):
    from migration.graph.limits import GraphTooComplex
    from migration.graph.whole_model import sample_feeds

    prefix = h.build(tmp_path / "src")
    h.edit_meta(prefix, h.placeholder_shape([-1, 10 ** 9, h.D]))
    with pytest.raises(GraphTooComplex, match="placeholder 'x' has shape \\[4, 1000000000, 3\\]"):
        sample_feeds(_original(prefix), ["x"])
    code = run_cli("convert", prefix, tmp_path / "out", "--quiet")
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err and "MemoryError" not in err, err
    assert not glob.glob(str(tmp_path / ".out*"))


def test_a_one_value_constant_edited_to_a_huge_shape_is_not_expanded_here():
    """TensorFlow repeats a constant's last stored value to fill its declared shape: a ``Const`` storing one float
    but declaring ``[10**6, 10**6]`` would take 4 TB in this process when the translator reads it. Control: a real
    constant of the same kind (stored values) is read."""
    from legacy_rnn import tf

    from migration.core.errors import MigrationError
    from migration.graph.graphdef import const_value

    graph = tf.Graph()
    with graph.as_default():
        real = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4), name="real")
    node = real.op.node_def
    np.testing.assert_array_equal(const_value(node), np.arange(12, dtype=np.float32).reshape(3, 4))
    node.attr["value"].tensor.ClearField("tensor_content")
    node.attr["value"].tensor.float_val.append(1.0)
    node.attr["value"].tensor.tensor_shape.dim[0].size = 10 ** 6
    node.attr["value"].tensor.tensor_shape.dim[1].size = 10 ** 6
    with pytest.raises(MigrationError, match="declares shape \\[1000000, 1000000\\] but stores far fewer"):
        const_value(node)


# -- signals: no orphan ---------------------------------------------------------------------------------------------

_PARENT = """
import json, sys
import numpy as np
from migration.core.signals import signals_raise
from migration.graph import worker
from migration.graph.limits import current
spec = json.load(open({spec!r}))
values = np.load({values!r}, allow_pickle=False)
part = {{kind: {{name: values[f"{{kind}}-{{k}}"] for k, name in enumerate(spec[kind])}} for kind in ("mapped", "fed", "assigned")}}
request = worker.Request(open({graph!r}, "rb").read(), spec["fetches"], part["mapped"], part["fed"], part["assigned"])
with signals_raise():
    worker.run(request, current())
"""


def _saved_request(og, directory, monkeypatch) -> dict:
    """The request ``og.run(["logits:0"], ...)`` sends to the sandbox child (the sub-``GraphDef`` and its values),
    saved as files, for a parent process that sends it through :mod:`migration.graph.worker` as ``og.run`` does
    (without importing TensorFlow itself: the parent's start-up costs no TensorFlow import)."""
    from migration.graph import worker

    captured = []

    class Captured(Exception):
        pass

    def capture(request, limits):  # noqa: ARG001
        captured.append(request)
        raise Captured

    with monkeypatch.context() as patch:
        patch.setattr(worker, "run", capture)
        with pytest.raises(Captured):
            og.run(["logits:0"], {"x": np.zeros((2, h.T, h.D), np.float32)})
    (request,) = captured
    os.makedirs(directory)
    paths = {"spec": os.path.join(directory, "request.json"), "values": os.path.join(directory, "values.npz"),
             "graph": os.path.join(directory, "graph.pb")}
    with open(paths["graph"], "wb") as f:
        f.write(request.graph)
    spec, values = {"fetches": list(request.fetches)}, {}
    for kind in ("mapped", "fed", "assigned"):
        spec[kind] = list(getattr(request, kind))
        for k, value in enumerate(getattr(request, kind).values()):
            assert isinstance(value, np.ndarray), (kind, type(value))
            values[f"{kind}-{k}"] = value
    with open(paths["spec"], "w") as f:
        json.dump(spec, f)
    np.savez(paths["values"], **values)
    return paths


def _children(pid: int) -> list[int]:
    out = []
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status) as f:
                text = f.read()
            cmd = open(status.replace("status", "cmdline"), "rb").read()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text and b"sandbox_child" in cmd:
            out.append(int(status.split("/")[2]))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()  # a zombie is dead (its reaper may be slow in a container)
    except OSError:
        return False


def _running_request(children: list[int]) -> bool:
    """A child has been sent its request: the parent's worker wrote ``req-1/request.json`` in the child's working
    directory (the worker's private directory) before it said "go"."""
    for pid in children:
        try:
            if os.path.exists(os.path.join(os.readlink(f"/proc/{pid}/cwd"), "req-1", "request.json")):
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_child_dies_with_its_parent(tmp_path, monkeypatch, sig):
    """A parent process runs the original graph's never-ending loop in its sandbox child (the request ``og.run``
    sends, through :mod:`migration.graph.worker`); the parent is signalled while the request runs: no child is left."""
    paths = _saved_request(_original(h.build(tmp_path / "src", logits_hook=h.forever)), str(tmp_path / "req"),
                           monkeypatch)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root, RNN_MIGRATE_SANDBOX_WALL="300", RNN_MIGRATE_SANDBOX_CPU="300")
    parent = subprocess.Popen([sys.executable, "-c", _PARENT.format(**paths)], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        children: list[int] = []
        while not _running_request(children) and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            children = _children(parent.pid)
        assert children, "the sandbox child never started"
        assert _running_request(children), "the sandbox child never received the request"
        time.sleep(0.3)  # the request is running (the loop)
        parent.send_signal(sig)
        parent.wait(timeout=60)
        deadline = time.monotonic() + 20
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = [c for c in children if _alive(c)]
        assert not alive, f"orphaned sandbox children: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
