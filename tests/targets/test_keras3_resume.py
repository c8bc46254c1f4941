"""Issue 24: the Keras 3 target resumes training from the converted optimizer slots where TF1 stopped.

TF1 (a real graph, tf.compat.v1.train.AdamOptimizer with non-default betas, a global step) trains a BasicLSTMCell
(forget_bias 0.8) + dense head on ragged sequences for 3 steps and saves (Saver, .meta); then one more step gives
the weights to reach. ``convert --with-optimizer --target keras3`` (in-process, once); the Keras 3 whole model
(``model.keras3.keras``, safe mode, TensorFlow backend) gets a Keras 3 Adam from the manifest and the converted
slots, takes ONE step on the same batch, and must land on TF1's weights within 1e-5. Negative controls: the slots
zeroed, and the step count not restored (Adam's bias correction), must each land elsewhere.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1

from tests.targets.adam_run import CLASSES, D, LENGTHS, adam_checkpoint

UNITS, FORGET_BIAS = 5, 0.8


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """(output dir, TF1 weights after the 4th step by name, the 4th batch)."""
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("k3resume")

    def logits_of(x, length):
        _, state = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(UNITS, forget_bias=FORGET_BIAS), x,
                                          sequence_length=length, dtype=tf.float32)
        return v1.layers.dense(state.h, CLASSES, name="logits")

    prefix, final, batch = adam_checkpoint(root, logits_of, graph_seed=8, batch_seed=17, weight_seed=4)
    out = str(root / "out")
    # verify=False: the target files' equality with the original graph is tests/targets' other files' subject;
    # here the one Keras 3 training step against TF1's is the check
    result = convert_checkpoint(prefix, out, with_optimizer=True, targets=["keras3"], verify=False)
    assert result.manifest["targets"]["keras3"]["model"]["file"] == "model.keras3.keras"
    return out, final, batch


def _one_step(out: str, batch, slots: str = "converted") -> list[tuple[str, np.ndarray]]:
    """The Keras 3 whole model's (path, weight) after one Adam step from the converted state, in slot order."""
    import keras

    from migration.checkpoint.optimizer_keras3 import keras3_slots, make_optimizer, restore_slots

    model = keras.saving.load_model(os.path.join(out, "model.keras3.keras"), safe_mode=True, compile=False)
    assert type(model).__module__.startswith("keras.")  # Keras 3, not tf_keras
    opt, info = make_optimizer(out)
    assert type(opt).__module__.startswith("keras.") and info["kind"] == "adam" and info["iterations"] == 3
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.8, 0.99, 1e-8)  # from the .meta, TF1's epsilon
    pairs = keras3_slots(out, model)
    assert len(pairs) == len(model.trainable_weights) == 5  # LSTM kernel, recurrent_kernel, bias; Dense kernel, bias
    if slots == "zeroed":
        pairs = [(v, {role: np.zeros_like(a) for role, a in s.items()}) for v, s in pairs]
    restore_slots(opt, pairs, None if slots == "no iterations" else info["iterations"])
    variables = [v for v, _ in pairs]
    xb, yb = batch
    with tf.GradientTape() as tape:
        logits = model([xb, LENGTHS], training=True)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=logits))
    opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    assert int(opt.iterations.numpy()) == (1 if slots == "no iterations" else 4)
    return [(v.path, np.asarray(v.numpy())) for v in variables]


def _max_diff(got: list[tuple[str, np.ndarray]], final) -> float:
    """Largest |diff| between the Keras 3 weights (LSTM kernel, recurrent_kernel, bias; Dense kernel, bias) and
    TF1's, brought to the Keras layout by the family converter (forget_bias folded)."""
    from migration.core.specs import CellSpec
    from migration.families import cell_to_keras

    want = cell_to_keras(CellSpec("basic_lstm", UNITS, forget_bias=FORGET_BIAS),
                         {"kernel": final["rnn/basic_lstm_cell/kernel"], "bias": final["rnn/basic_lstm_cell/bias"]}, D)
    want += [final["logits/kernel"], final["logits/bias"]]
    assert [p.rsplit("/", 1)[-1] for p, _ in got] == ["kernel", "recurrent_kernel", "bias", "kernel", "bias"]
    return max(float(np.max(np.abs(a - b))) for (_, a), b in zip(got, want))


def test_one_keras3_step_from_the_converted_slots_equals_one_more_tf1_step(resumed):
    out, final, batch = resumed
    assert _max_diff(_one_step(out, batch), final) < 1e-5


@pytest.mark.parametrize("slots", ["zeroed", "no iterations"])
def test_negative_controls_land_elsewhere(resumed, slots):
    out, final, batch = resumed
    assert _max_diff(_one_step(out, batch, slots), final) > 1e-4


def test_a_block_model_resumes_its_own_weights(resumed):
    """The per-block file (``blocks/rnn.keras3.keras``) maps its layer to the same converted slots."""
    import keras

    from migration.checkpoint.optimizer import block_slots
    from migration.checkpoint.optimizer_keras3 import keras3_slots

    out, _, _ = resumed
    model = keras.saving.load_model(os.path.join(out, "blocks", "rnn.keras3.keras"), safe_mode=True, compile=False)
    pairs = keras3_slots(out, model)
    expected = block_slots(out, "rnn")
    assert [tuple(v.shape) for v, _ in pairs] == [tuple(s["m"].shape) for s in expected]
    for (_, got), want in zip(pairs, expected):
        assert set(got) == {"m", "v"} and all(np.array_equal(got[r], want[r]) for r in got)
