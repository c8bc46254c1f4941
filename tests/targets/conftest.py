"""Suite time (h-speed2): one XLA compilation cache for every JAX child process of this test session.

``convert --target keras3`` checks each Keras 3 file on the JAX backend in a fresh child process
(migration/targets/verify_targets.py ``run_keras3_elsewhere``, which passes ``os.environ`` on). Most of a child's CPU
is XLA compiling: the variables' initializers while a model loads (values the file then overwrites) and the RNN
scans, the same shapes again in every child. JAX's persistent compilation cache (``JAX_COMPILATION_CACHE_DIR``; the
thresholds at 0 so the small programs are kept too) lets the later children of the session load the compiled
programs instead (measured: a child of 4 blocks, 15.0 CPU s cold, 6.1 s warm). Only compiled code is cached, keyed by
the program, JAX/XLA version and options: every output is still computed from the files and inputs of this run, so
every check can still fail. The cache lives in this session's (this xdist worker's) temporary directory: a run never
reads another run's cache, and the product's behaviour (no cache unless the user sets one) is not changed.
"""
from __future__ import annotations

import os

import pytest

CACHE_ENV = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


@pytest.fixture(scope="session", autouse=True)
def _jax_child_compilation_cache(tmp_path_factory):
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):  # the developer's own cache: keep it
        yield
        return
    env = dict(CACHE_ENV, JAX_COMPILATION_CACHE_DIR=str(tmp_path_factory.mktemp("jax_cache")))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def seq2seq_onnx_converted(tmp_path_factory):
    """test_target_seq2seq_onnx.py's TF1 program converted ONCE with ``targets=["onnx"]`` for the session: that file
    and test_target_beam_onnx.py share it (one TF1 build and one conversion, not one per module)."""
    from migration.checkpoint.convert import convert_checkpoint
    from tests.targets.test_target_seq2seq_onnx import Session, build

    root = tmp_path_factory.mktemp("seq2seq_onnx")
    graph = build(str(root))
    result = convert_checkpoint(graph["prefix"], root / "out", targets=["onnx"])
    original = Session(graph["prefix"])
    yield {**graph, "result": result, "out": str(root / "out"), "manifest": result.manifest, "original": original,
           "tmp": str(root)}
    original.sess.close()
