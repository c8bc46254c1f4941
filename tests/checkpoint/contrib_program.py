"""One real TF1 program for the tf.contrib family modules (test_family_contrib_cells1.py, test_family_contrib_cells2.py,
test_family_ugrnn.py, test_family_contrib_cells3_hnas.py), converted, verified and converted wrongly ONCE for all of
them (the session fixture ``contrib_program`` in conftest.py) instead of once per module: each module registers its
encoders here (a :class:`Part`) at import; the program holds the parts of every module collected.

The program: x [None, T, D], lengths [None] -> every part's ``dynamic_rnn`` encoders (ragged lengths) -> each
encoder's last relevant output, all concatenated -> one dense head -> softmax loss; every variable randomised
(``randomize``), saved by ``tf.compat.v1.train.Saver`` with its .meta. Runs, each once:

* ``inspect`` (its printed text), ``convert --quiet`` (exit code, OUT_DIR), ``verify`` (exit code);
* the whole model loaded in safe mode and called on (x, lengths): its logits, for each module to compare with the
  program's own;
* the negative control: ``convert --forget-bias 0.0`` with every part's ``faults`` patched in (a wrong weight
  conversion of one block): exit code, the printed ``ok``/``FAIL`` verdict of every block and of the whole model,
  and whether OUT_DIR was created. Each module asserts the verdicts of its own blocks (a block that uses
  forget_bias, or is patched, FAILs; the others stay ``ok``, so the fault is caught where it is and only there).
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import types
from typing import Callable

import numpy as np

import legacy_rnn
from conftest import randomize, run_cli
from legacy_rnn import tf, v1
from tests.checkpoint.tf1_values import FAST

B, T, D = 3, 5, 4
LENGTHS = np.array([5, 1, 3], np.int32)
SEED = 43


@dataclasses.dataclass
class Part:
    """``build(x, lengths)`` adds the module's encoders to the graph and returns ``{key: (outputs, final state)}``;
    ``faults``: ``(object, attribute, replacement)`` patched in for the wrong conversion only."""

    name: str
    build: Callable
    faults: tuple = ()


PARTS: dict[str, Part] = {}


def register(part: Part, dims: tuple, lengths: np.ndarray) -> None:
    """Called by each module at import; its B, T, D and lengths must be the program's."""
    assert tuple(dims) == (B, T, D) and np.array_equal(lengths, LENGTHS), (part.name, dims, lengths)
    PARTS[part.name] = part


def _capture(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(*args)
    return code, out.getvalue(), err.getvalue()


def verdicts(printed: str) -> dict[str, str]:
    """Block scope (or "whole model") -> "ok"/"FAIL" from convert's printed report."""
    found: dict[str, set] = {}
    for line in printed.splitlines():
        words = line.split()
        if len(words) > 2 and words[0] in ("ok", "FAIL") and words[1] == "block":
            found.setdefault(words[2], set()).add(words[0])
        elif len(words) > 2 and words[0] in ("ok", "FAIL") and words[1:3] == ["whole", "model"]:
            found.setdefault("whole model", set()).add(words[0])
    return {k: "FAIL" if "FAIL" in v else "ok" for k, v in found.items()}


def build(tmp_path_factory) -> types.SimpleNamespace:
    assert PARTS, "no module registered a part"
    root = tmp_path_factory.mktemp("contrib_program")
    x_np = np.random.default_rng(SEED).normal(0, 1, (B, T, D)).astype(np.float32)
    with legacy_rnn.new_graph(SEED) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        lengths = v1.placeholder(tf.int32, [None], name="lengths")
        encoders: dict = {}
        for part in PARTS.values():
            built = part.build(x, lengths)
            assert not set(built) & set(encoders), sorted(set(built) & set(encoders))
            encoders.update(built)
        index = tf.stack([tf.range(tf.shape(x)[0]), lengths - 1], 1)
        lasts = [tf.gather_nd(outputs, index) for outputs, _ in encoders.values()]
        logits = v1.layers.dense(tf.concat(lasts, -1), 3, name="head")
        labels = v1.placeholder(tf.int32, [None], name="labels")
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss")
        with v1.Session(graph=graph, config=FAST) as sess:
            legacy_rnn.initialize(sess)
            randomize(sess, SEED)
            ref = sess.run({"logits": logits, "outs": {k: o for k, (o, _) in encoders.items()},
                            "states": {k: tf.nest.flatten(s) for k, (_, s) in encoders.items()}},
                           {x: x_np, lengths: LENGTHS})
            prefix = v1.train.Saver().save(sess, os.path.join(str(root / "ckpt"), "model.ckpt"))
    out = root / "out"
    code = run_cli("convert", prefix, out, "--quiet")
    inspected = _capture("inspect", prefix)
    verified = run_cli("verify", prefix, out) if code == 0 else None
    model_logits = None
    if code == 0:
        import json

        from migration.safe_io import load_keras_model

        with open(os.path.join(str(out), "manifest.json")) as f:
            model_file = json.load(f)["model"]["file"]
        model_logits = np.asarray(load_keras_model(os.path.join(str(out), model_file))([x_np, LENGTHS],
                                                                                        training=False))
    wrong_dir = root / "wrong"
    with contextlib.ExitStack() as stack:
        for part in PARTS.values():
            for obj, attr, value in part.faults:
                old = getattr(obj, attr)
                setattr(obj, attr, value)
                stack.callback(setattr, obj, attr, old)
        wrong = _capture("convert", prefix, wrong_dir, "--forget-bias", "0.0", "--quiet")
    return types.SimpleNamespace(
        root=root, prefix=prefix, x_np=x_np, ref=ref, out=out, code=code, inspect=inspected, verify=verified,
        model_logits=model_logits, wrong_code=wrong[0], wrong_verdicts=verdicts(wrong[1]),
        wrong_printed=wrong[1] + wrong[2], wrong_written=os.path.exists(wrong_dir), parts=sorted(PARTS))
