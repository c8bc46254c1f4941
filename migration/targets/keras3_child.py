"""Run Keras 3 block models on another backend (``KERAS_BACKEND``, e.g. ``jax``), in a child process.

Started once per process by :mod:`migration.targets.keras3_process` as ``python -I keras3_child.py --serve`` (one
work directory per stdin line, one JSON line back: :func:`serve`); imports
only ``keras``, NumPy and the custom cells and layers of ``keras3_cells.py`` / ``keras3_layers.py`` beside it (which
import only keras), not the rest of
rnn-migrate. ``DIR/jobs.json`` lists ``[model path, [input .npy, ...], out stem]``;
each model is loaded in safe mode, called on its inputs (one tensor when it has one input, else the list) and its
outputs are written as ``<out stem>-<k>.npy``. Only JSON and ``.npy``
(``allow_pickle=False``) cross the boundary. Each answer names the backend and its devices.

Speed (measured on the 27-block family checkpoint of tests/targets: 20.4 -> 12.1 CPU s per child, ~4 s of it the
imports): while a model loads, every initializer of ``keras.initializers`` returns NumPy zeros
(:func:`placeholder_initializers`) instead of compiling and running its random/orthogonal program on the backend:
the values are overwritten by the file's weights, and Keras refuses a file whose variable count differs from the
model's (so no variable can keep a placeholder). The parent compiles at XLA's backend optimization level 0
(``XLA_FLAGS``, :func:`migration.targets.verify_targets.child_env`): the same HLO programs, less LLVM optimisation
of code that runs once on a 4 x 6 batch.
"""
import atexit
import contextlib
import json
import os
import sys


def register_cells() -> None:
    """Import the custom cells and layers (:mod:`migration.targets.keras3_cells`, :mod:`migration.targets.
    keras3_layers`, beside this file; they import only keras) by their file paths: this isolated process does not
    import rnn-migrate."""
    import importlib.util

    for stem in ("keras3_cells", "keras3_layers", "keras3_wrappers", "keras3_feedback", "keras3_legacy",
                 "keras3_seq2seq"):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{stem}.py")
        spec = importlib.util.spec_from_file_location(f"rnn_migrate_{stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


@contextlib.contextmanager
def placeholder_initializers(keras, np):
    """Within: every initializer class of ``keras.initializers`` returns ``np.zeros(shape, dtype)`` (no backend
    program compiled and run for values the loaded weights overwrite); restored on exit."""
    import inspect

    saved = {}
    for cls in vars(keras.initializers).values():
        if (inspect.isclass(cls) and issubclass(cls, keras.initializers.Initializer) and "__call__" in vars(cls)
                and cls not in saved):  # a class exported under several names is patched once
            saved[cls] = vars(cls)["__call__"]
            cls.__call__ = lambda self, shape, dtype=None: np.zeros(shape, dtype or "float32")
    try:
        yield
    finally:
        for cls, call in saved.items():
            cls.__call__ = call


#: migration.core.gc_tuning.THRESHOLDS (this isolated process imports nothing of rnn-migrate; a test keeps them equal)
GC_THRESHOLDS = (50_000, 20, 20)


def _start():
    """(keras, numpy) with the custom cells and layers registered, and the collector tuned (gc_tuning's docstring)."""
    if os.environ.get("RNN_MIGRATE_DEFAULT_GC", "") in ("", "0"):
        import gc

        gc.set_threshold(*GC_THRESHOLDS)
        atexit.register(gc.freeze)  # no whole-heap collections at exit (gc_tuning's docstring)
    import keras
    import numpy as np

    register_cells()
    return keras, np


def run_jobs(keras, np, work: str) -> dict:
    """Every job of ``work/jobs.json`` (module docstring); the backend and its devices."""
    with open(os.path.join(work, "jobs.json")) as f:
        jobs = json.load(f)
    for model_path, input_paths, stem, *call in jobs:
        with placeholder_initializers(keras, np):
            model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
        inputs = [np.load(path, allow_pickle=False) for path in input_paths]
        if call:  # a method of the model on the inputs (a seq2seq decode: {"method", "kwargs", "outputs": n})
            outs = list(getattr(model, call[0]["method"])(*inputs, **call[0]["kwargs"]))[:call[0]["outputs"]]
        else:
            outs = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
        for k, out in enumerate(outs if isinstance(outs, (list, tuple)) else [outs]):
            np.save(os.path.join(work, f"{stem}-{k}.npy"), np.asarray(keras.ops.convert_to_numpy(out)),
                    allow_pickle=False)
        del model, outs
    # The next request starts from Keras' initial global state. Without clear_session's full gc.collect() (13 % of
    # the serving child's CPU time); the collector's own thresholds (GC_THRESHOLDS) free the cycles. A Keras before
    # 3.6 has no free_memory argument and keeps its collection.
    import inspect

    if "free_memory" in inspect.signature(keras.backend.clear_session).parameters:
        keras.backend.clear_session(free_memory=False)
    else:
        keras.backend.clear_session()
    devices = []
    if keras.backend.backend() == "jax":
        import jax

        devices = [str(d) for d in jax.devices()]
    return {"backend": keras.backend.backend(), "keras": keras.__version__, "devices": devices}


def serve() -> int:
    """Many requests, one start (``python -I keras3_child.py --serve``): prints ``{"ready": true}``, then for each
    line of stdin (a work directory) one JSON line: :func:`run_jobs`' answer with ``"ok": true``, or ``"ok": false``
    and the error's last line. Exits at the end of stdin (the parent closed it, or is gone). What Keras or JAX print
    goes to stderr: stdout carries the protocol only."""
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    keras, np = _start()
    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    for line in sys.stdin:
        try:
            answer = dict(run_jobs(keras, np, line.strip()), ok=True)
        except Exception as exc:  # noqa: BLE001 - every failure is an answer; the parent raises it, named
            text = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
            answer = {"ok": False, "error": f"{type(exc).__name__}: {text[-1] if text else ''}"[:500]}
        reply.write(json.dumps(answer) + "\n")
        reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
