"""stack_bidirectional_dynamic_rnn / stack_bidirectional_rnn: TF1 graph -> Saver checkpoint -> converted Keras twin
(and back), two layers, ragged lengths, against a NumPy reference in which layer k reads concat(fw, bw) of layer
k-1; negative control: layer 1 reading concat(bw, fw) is caught."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

import legacy_rnn
import modern_rnn
from migration import converters
from migration.core.specs import CellSpec

from .harness import FAST_SESSION, LENGTHS, random_inputs, random_tf1_weights
from .reference import bidirectional

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
SPECS = [CellSpec("basic_lstm", 3, forget_bias=0.5), CellSpec("gru", 2)]  # layer 0, layer 1


def _prefix(k: int, d: str) -> str:
    return f"stack_bidirectional_rnn/cell_{k}/bidirectional_rnn/{d}/{SPECS[k].tf1_scope}/"


def _depth(k: int) -> int:
    return 4 if k == 0 else 2 * SPECS[k - 1].units


def _tf1(static: bool, x, values=None, seed=0):
    rng = np.random.default_rng(seed)
    with legacy_rnn.new_graph(seed) as graph:
        xp = legacy_rnn.placeholder(tf.float32, x.shape, name="x")
        fw = [legacy_rnn.cell_from_spec(s) for s in SPECS]
        bw = [legacy_rnn.cell_from_spec(s) for s in SPECS]
        if static:
            outs, _, _ = legacy_rnn.stack_bidirectional_rnn(fw, bw, tf.unstack(xp, axis=1),
                                                            sequence_length=tf.constant(LENGTHS))
            out = tf.stack(outs, 1)
        else:
            out, _, _ = legacy_rnn.stack_bidirectional_dynamic_rnn(fw, bw, xp, sequence_length=tf.constant(LENGTHS))
        values = values or {_prefix(k, d) + n: v for k in range(2) for d in ("fw", "bw")
                            for n, v in random_tf1_weights(SPECS[k], _depth(k), rng).items()}
        variables = v1.trainable_variables()
        assert sorted(v.op.name for v in variables) == sorted(values)
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run([v.assign(values[v.op.name]) for v in variables])
            out_v = sess.run(out, {xp: x})
            with tempfile.TemporaryDirectory() as tmp:
                reader = tf.train.load_checkpoint(legacy_rnn.save(sess, os.path.join(tmp, "m.ckpt")))
                saved = {v.op.name: reader.get_tensor(v.op.name) for v in variables}
    return out_v, saved


def _arrays(saved, k, d):
    return {n[len(_prefix(k, d)):]: v for n, v in saved.items() if n.startswith(_prefix(k, d))}


def _keras(static: bool, x, saved):
    fw = [modern_rnn.cell_from_spec(s) for s in SPECS]
    bw = [modern_rnn.cell_from_spec(s) for s in SPECS]

    def run():
        if static:
            outs, _, _ = modern_rnn.stack_bidirectional_rnn(fw, bw, tf.unstack(x, axis=1),
                                                            sequence_length=tf.constant(LENGTHS))
            return tf.stack(outs, 1).numpy()
        return modern_rnn.stack_bidirectional_dynamic_rnn(fw, bw, x, sequence_length=tf.constant(LENGTHS))[0].numpy()

    run()
    for k in range(2):
        for d, cells in (("fw", fw), ("bw", bw)):
            cells[k].set_weights(converters.cell_to_keras(SPECS[k], _arrays(saved, k, d), _depth(k)))
    return run(), fw, bw


def _reference(x, saved):
    layer = np.asarray(x, np.float64)
    for k in range(2):
        layer, _ = bidirectional([SPECS[k]], [_arrays(saved, k, "fw")], [SPECS[k]], [_arrays(saved, k, "bw")],
                                 layer, LENGTHS)
    return layer


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
def test_stack_bidirectional_both_directions(static: bool) -> None:
    x = random_inputs(0)
    out, saved = _tf1(static, x, seed=3)
    assert np.abs(out - _reference(x, saved)).max() < 1e-5
    k_out, fw, bw = _keras(static, x, saved)
    assert np.abs(k_out - out).max() < 1e-5 and not k_out[2, 1:].any()
    back = {_prefix(k, d) + n: v for k in range(2) for d, cells in (("fw", fw), ("bw", bw))
            for n, v in converters.cell_to_tf1(SPECS[k], cells[k].get_weights()).items()}
    out2, _ = _tf1(static, x, values=back)
    assert np.abs(out2 - k_out).max() < 1e-5


def test_swapped_concat_order_is_caught() -> None:
    """Negative control: layer 1 reading concat(bw, fw) instead of concat(fw, bw) (same weights) is far off."""
    x = random_inputs(0)
    out, saved = _tf1(False, x, seed=3)
    layer, _ = bidirectional([SPECS[0]], [_arrays(saved, 0, "fw")], [SPECS[0]], [_arrays(saved, 0, "bw")],
                             np.asarray(x, np.float64), LENGTHS)
    u = SPECS[0].units
    swapped = np.concatenate([layer[..., u:], layer[..., :u]], -1)
    wrong, _ = bidirectional([SPECS[1]], [_arrays(saved, 1, "fw")], [SPECS[1]], [_arrays(saved, 1, "bw")], swapped,
                             LENGTHS)
    assert np.abs(wrong - out).max() > 1e-3
