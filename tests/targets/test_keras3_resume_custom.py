"""Issue 24: the Keras 3 target resumes training from the converted optimizer slots for CUSTOM-step families too.

TF1 (a real graph, tf.compat.v1.train.AdamOptimizer with non-default betas and a global step) trains
x -> LayerNormBasicLSTMCell(5, forget_bias 0.7) -> SRUCell(4) -> dense head on the SRU's final state, on ragged
sequences, for 3 steps and saves (Saver, .meta); one more step gives the weights to reach. ``convert --with-optimizer
--target keras3`` (in-process, once); the Keras 3 whole model (``model.keras3.keras``: the two blocks are
``keras.layers.RNN`` of the custom cells ``rnn_migrate>LayerNormBasicLSTMCell`` / ``rnn_migrate>SRUCell``; safe mode,
TensorFlow backend) gets a Keras 3 Adam from the manifest and the converted slots, takes ONE step on the same batch,
and must land on TF1's weights (brought to the Keras layout by the family converters) within 1e-5; the same on the JAX
backend in ONE child process (stateless training: ``model.stateless_call`` under ``jax.grad``, then
``optimizer.stateless_apply``). Negative controls, on both backends: the slots of same-shaped weights given to each
other (wrong order), and the step count not restored (Adam's bias correction, TF1's beta powers), must each land
elsewhere.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import contrib, sru, tf, v1

from tests.targets.adam_run import CLASSES, LENGTHS, adam_checkpoint

FORGET_BIAS = 0.7


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """(output dir, TF1 weights after the 4th step by name, the 4th batch)."""
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("k3resume_custom")

    def logits_of(x, length):
        out, _ = legacy_rnn.dynamic_rnn(contrib.layer_norm_basic_lstm_cell(5, forget_bias=FORGET_BIAS), x,
                                        sequence_length=length, dtype=tf.float32, scope="ln")
        _, state = legacy_rnn.dynamic_rnn(sru.sru_cell(4), out, sequence_length=length, dtype=tf.float32,
                                          scope="sru")
        return v1.layers.dense(state, CLASSES, name="logits")

    prefix, final, batch = adam_checkpoint(root, logits_of, graph_seed=9, batch_seed=23, weight_seed=5)
    out_dir = str(root / "out")
    # verify=False: the target files' equality with the original graph is other files' subject (custom blocks:
    # test_target_families.py, test_target_custom_whole.py); here the one Keras 3 training step is the check
    result = convert_checkpoint(prefix, out_dir, with_optimizer=True, targets=["keras3"], verify=False)
    entry = result.manifest["targets"]["keras3"]["model"]
    assert entry["file"] == "model.keras3.keras" and entry["inputs"] == ["x", "length"]
    return out_dir, final, batch


def _wrong_order(pairs):
    """Each variable gets the slots of the next variable of the same shape (at least one group of two or more)."""
    by_shape: dict = {}
    for k, (v, _) in enumerate(pairs):
        by_shape.setdefault(tuple(v.shape), []).append(k)
    moved = list(pairs)
    groups = [g for g in by_shape.values() if len(g) > 1]
    assert groups, "no two weights of one shape to swap"
    for group in groups:
        for a, b in zip(group, group[1:] + group[:1]):
            moved[a] = (pairs[a][0], pairs[b][1])
    return moved


def _one_step(out: str, final: dict, batch, slots: str = "converted") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(the Keras 3 whole model's trainable weights after one Adam step from the converted state, TF1's weights
    after its 4th step in the same order and the Keras layout)."""
    import keras

    import migration.targets.keras3_cells  # noqa: F401  (registers rnn_migrate>LayerNormBasicLSTMCell, SRUCell)
    from migration.checkpoint.optimizer_keras3 import keras3_slots, make_optimizer, restore_slots

    model = keras.saving.load_model(os.path.join(out, "model.keras3.keras"), safe_mode=True, compile=False)
    cells = {type(layer.cell).__name__ for block in model.layers if hasattr(block, "layers")
             for layer in block.layers if hasattr(layer, "cell")}
    assert cells == {"LayerNormBasicLSTMCell", "SRUCell"}, cells  # the custom cells, not a standard layer
    opt, info = make_optimizer(out)
    assert info["kind"] == "adam" and info["iterations"] == 3 and (opt.beta_1, opt.beta_2) == (0.8, 0.99)
    pairs = keras3_slots(out, model)
    assert len(pairs) == len(model.trainable_weights) == 6 + 2 + 2  # LN-LSTM 6, SRU kernel + bias, Dense 2
    if slots == "wrong order":
        pairs = _wrong_order(pairs)
    restore_slots(opt, pairs, None if slots == "no iterations" else info["iterations"])
    variables = [v for v, _ in pairs]
    xb, yb = batch
    with tf.GradientTape() as tape:
        logits = model([xb, LENGTHS], training=True)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits))
    opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    assert int(opt.iterations.numpy()) == (1 if slots == "no iterations" else 4)
    return [np.asarray(v.numpy()) for v in variables], _expected(model, out, final, [v.path for v in variables])


def _expected(model, out: str, final: dict, paths: list[str]) -> list[np.ndarray]:
    """TF1's weights after the 4th step, in the order of the model's trainable weights: each block layer's cell
    through the family converter (the arrays its Keras 2 and Keras 3 layers take), the head as saved."""
    from migration.checkpoint.manifest import read_manifest
    from migration.targets.weights import block_cells

    blocks = {f"block_{b['name']}": b for b in read_manifest(out)["blocks"]}
    want: list[np.ndarray] = []
    for layer in model.layers:
        if not layer.trainable_weights:
            continue
        if layer.name in blocks:
            (cells,) = block_cells(blocks[layer.name], lambda key: np.asarray(final[key], np.float32)).values()
            for sub in (s for s in layer.layers if s.trainable_weights):
                want += cells[int(sub.name[len("layer"):])].arrays()
        else:
            want += [final["logits/kernel"], final["logits/bias"]]
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["kernel", "recurrent_kernel", "gamma", "beta", "state_gamma",
                                                     "state_beta", "kernel", "bias", "kernel", "bias"], paths
    return want


def _max_diff(got_want) -> float:
    got, want = got_want
    assert [g.shape for g in got] == [np.shape(w) for w in want]
    return max(float(np.max(np.abs(g - w))) for g, w in zip(got, want))


def test_one_keras3_step_of_custom_cells_from_the_converted_slots_equals_one_more_tf1_step(resumed):
    out, final, batch = resumed
    assert _max_diff(_one_step(out, final, batch)) < 1e-5


@pytest.mark.parametrize("slots", ["wrong order", "no iterations"])
def test_negative_controls_land_elsewhere(resumed, slots):
    out, final, batch = resumed
    assert _max_diff(_one_step(out, final, batch, slots)) > 1e-4


#: the JAX child: the same step as :func:`_one_step`, stateless (``model.stateless_call`` under ``jax.grad``, then
#: ``optimizer.stateless_apply``), for each mode; the new weights as .npy in the slot pairs' order
JAX_CHILD = r"""
import json, os, sys
import numpy as np
import jax, keras
import migration.targets.keras3_cells
from migration.checkpoint.optimizer_keras3 import keras3_slots, make_optimizer, restore_slots


def _wrong_order(pairs):  # as the test module's (not imported: it imports TensorFlow)
    by_shape = {}
    for k, (v, _) in enumerate(pairs):
        by_shape.setdefault(tuple(v.shape), []).append(k)
    moved = list(pairs)
    for group in (g for g in by_shape.values() if len(g) > 1):
        for a, b in zip(group, group[1:] + group[:1]):
            moved[a] = (pairs[a][0], pairs[b][1])
    return moved


out, work = sys.argv[1], sys.argv[2]
xb, yb, lengths = (np.load(os.path.join(work, n + ".npy"), allow_pickle=False) for n in ("x", "y", "lengths"))
report = {"backend": keras.backend.backend(), "paths": {}}
model = keras.saving.load_model(os.path.join(out, "model.keras3.keras"), safe_mode=True, compile=False)
for mode in ("converted", "wrong order", "no iterations"):  # stateless: the model's variables stay as loaded
    opt, info = make_optimizer(out)
    pairs = keras3_slots(out, model)
    if mode == "wrong order":
        pairs = _wrong_order(pairs)
    restore_slots(opt, pairs, None if mode == "no iterations" else info["iterations"])
    order = [id(v) for v, _ in pairs]
    trainable = list(model.trainable_variables)
    assert sorted(order) == sorted(id(v) for v in trainable)
    fixed = [v.value for v in model.non_trainable_variables]

    def loss(values):
        logits, _ = model.stateless_call(values, fixed, [xb, lengths], training=True)
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(yb, logits, from_logits=True))

    grads = jax.grad(loss)([v.value for v in trainable])
    by_id = {id(v): (v, g) for v, g in zip(trainable, grads)}
    new, _ = opt.stateless_apply([v.value for v in opt.variables], [by_id[i][1] for i in order],
                                 [by_id[i][0].value for i in order])
    for k, value in enumerate(new):
        np.save(os.path.join(work, f"{mode.replace(' ', '_')}-{k}.npy"), np.asarray(value), allow_pickle=False)
    report["paths"][mode] = [by_id[i][0].path for i in order]
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def jax_steps(resumed, tmp_path_factory):
    """mode -> (weights after the JAX backend's stateless step, variable paths), from ONE child process."""
    import json
    import subprocess
    import sys

    out, final, (xb, yb) = resumed
    tmp_path = tmp_path_factory.mktemp("k3resume_jax")
    for name, array in (("x", xb), ("y", yb), ("lengths", LENGTHS)):
        np.save(tmp_path / f"{name}.npy", array, allow_pickle=False)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", JAX_CHILD, out, str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax"
    steps = {}
    for mode, paths in report["paths"].items():
        stem = mode.replace(" ", "_")
        got = [np.load(tmp_path / f"{stem}-{k}.npy", allow_pickle=False) for k in range(len(paths))]
        steps[mode] = got, _expected(_load(out), out, final, paths)
    return steps


def _load(out: str):
    import keras

    import migration.targets.keras3_cells  # noqa: F401

    return keras.saving.load_model(os.path.join(out, "model.keras3.keras"), safe_mode=True, compile=False)


def test_the_jax_backend_resumes_statelessly_to_the_same_weights(jax_steps):
    """Keras 3 on JAX: ``stateless_call`` under ``jax.grad`` and ``optimizer.stateless_apply`` from the restored
    slots land on TF1's weights; the negative controls land elsewhere on this backend too."""
    assert _max_diff(jax_steps["converted"]) < 1e-5
    assert _max_diff(jax_steps["wrong order"]) > 1e-4
    assert _max_diff(jax_steps["no iterations"]) > 1e-4
