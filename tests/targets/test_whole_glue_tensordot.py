"""Issue 24: a Dense / matmul applied to a tensor of run-time shape (``tf.tensordot``, ``tf.layers.dense`` on a rank-3
tensor, the hand-written ``reshape(-1, m) -> matmul -> reshape(shape(x)[:-1] + [k])``) in the whole-model targets.

Its glue reshapes to shapes computed from ``tf.shape(x)`` pieces (``gather`` / ``strided_slice`` / indexing,
``reduce_prod``, ``d0 * d1``, ``stack`` / ``concat`` with constants): Keras 3 keeps them symbolic and resolves them from
the input's actual shape at call time (:mod:`migration.targets.keras3_glue`: ``Prod``), ONNX feeds the shape tensor to
``Reshape`` and knows the result's rank from the length of the shape vector (:mod:`migration.targets.onnx_glue`).

Each spelling is a real Keras 2 functional model (tf_keras records the glue as ``TFOpLambda`` / ``SlicingOpLambda``
layers, the config the conversion writes for the TF1 ``Tensordot`` of tests/seq2seq/test_biasless_projection.py),
walked by the product's translators (:func:`migration.targets.whole.walk`) and run on two input shapes (batch !=
steps, batch == steps); each output equals TensorFlow's own ``tf.tensordot`` / ``tf.reshape`` within 1e-6. Negative
controls: a wrong transpose before the reshape is caught on both targets; a reshape to a shape computed from tensor
values is still refused by Keras 3, naming it.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

RNG = np.random.default_rng(24)
M, K, U = 4, 5, 3                                      # contracted size, units, a static middle dimension
W = RNG.uniform(-1.0, 1.0, (M, K)).astype(np.float32)
BIAS = RNG.uniform(-0.5, 0.5, (K,)).astype(np.float32)
SHAPES = [(3, 5), (4, 4)]                               # (batch, steps): unequal, then equal run-time dimensions


def _tensordot_glue(tf, x, dense, flipped_perm=(0, 1, 2)):
    """TF's ``tensordot(x, kernel, 1)`` of a rank-known, shape-unknown ``x`` as its graph computes it: the free and
    contracted dimensions gathered from ``tf.shape``, their ``reduce_prod`` stacked, the matmul (``dense``), the
    free dimensions concatenated with the units."""
    shape = tf.shape(x)
    rank = len(x.shape)
    free = tf.gather(shape, list(range(rank - 1)), axis=0)
    axes = tf.gather(shape, [rank - 1], axis=0)
    flat = tf.stack([tf.math.reduce_prod(free, axis=[0], keepdims=False),
                     tf.math.reduce_prod(axes, axis=[0], keepdims=False)], axis=0)
    rows = tf.reshape(tf.transpose(x, list(flipped_perm) + list(range(3, rank))), flat)
    return tf.reshape(dense(tf.reshape(rows, [-1, M])), tf.concat([free, [K]], axis=0))


def _models(tf, tf_keras, perm=(0, 1, 2)) -> tuple:
    """The Keras 2 model of every spelling (inputs x3 [B, T, M], x4 [B, T, U, M], xd [B, T, M] of a run-time depth)
    and the reference functions."""
    x3 = tf_keras.Input((None, M), name="x3")
    x4 = tf_keras.Input((None, U, M), name="x4")
    xd = tf_keras.Input((None, None), name="xd")
    dense = tf_keras.layers.Dense(K, name="projection")
    outputs = {
        # tf.layers.dense / Dense on a rank-3 tensor (a bias), and a bias-less matmul (TF1's tf.tensordot)
        "tensordot_dense": _tensordot_glue(tf, x3, dense, perm),
        "tensordot_matmul": _tensordot_glue(tf, x3, lambda h: tf.linalg.matmul(h, W)),
        # rank 4: three free dimensions, two of them run-time ones (a Prod of two Dims and a static 3)
        "tensordot_rank4": _tensordot_glue(tf, x4, lambda h: tf.linalg.matmul(h, W)),
        # every dimension a run-time one: the [-1, M] reshape has two (a Prod and a Dim)
        "tensordot_depth": _tensordot_glue(tf, xd, lambda h: tf.linalg.matmul(h, W)),
    }
    # hand-written: reshape(x, [-1, M]) @ W, back to tf.concat([tf.shape(x)[:-1], [K]], 0) (Python indexing, then
    # TF1's strided_slice spelling of it)
    outputs["shape_slice"] = tf.reshape(tf.linalg.matmul(tf.reshape(x3, [-1, M]), W),
                                        tf.concat([tf.shape(x3)[:-1], [K]], 0))
    sliced = tf.strided_slice(tf.shape(x4), [0], [-1], [1], begin_mask=1)
    outputs["strided_slice"] = tf.reshape(tf.linalg.matmul(tf.reshape(x4, [-1, M]), W), tf.concat([sliced, [K]], 0))
    # batch * steps as a product of two shape pieces, back with tf.stack([batch, steps, K])
    s = tf.shape(x3)
    rows = tf.reshape(x3, tf.stack([s[0] * s[1], M]))
    outputs["multiply_stack"] = tf.reshape(tf.linalg.matmul(rows, W), tf.stack([s[0], s[1], K]))
    # flattened per example, then [batch, -1, M] (the batch axis of the tensor itself kept, a -1 beside it)
    flat = tf.reshape(x4, tf.stack([tf.shape(x4)[0], -1]))
    outputs["batch_minus_one"] = tf.linalg.matmul(tf.reshape(flat, tf.stack([tf.shape(flat)[0], -1, M])), W)
    model = tf_keras.Model([x3, x4, xd], list(outputs.values()))
    dense.set_weights([W, BIAS])
    refs = {"tensordot_dense": lambda a, b, d: tf.tensordot(a, W, 1) + BIAS,
            "tensordot_matmul": lambda a, b, d: tf.tensordot(a, W, 1),
            "tensordot_rank4": lambda a, b, d: tf.tensordot(b, W, 1),
            "tensordot_depth": lambda a, b, d: tf.tensordot(d, W, 1),
            "shape_slice": lambda a, b, d: tf.reshape(tf.reshape(a, [-1, M]) @ W,
                                                      tf.concat([tf.shape(a)[:-1], [K]], 0)),
            "strided_slice": lambda a, b, d: tf.tensordot(b, W, [[3], [0]]),
            "multiply_stack": lambda a, b, d: tf.tensordot(a, W, 1),
            "batch_minus_one": lambda a, b, d: tf.tensordot(tf.reshape(b, [b.shape[0], -1, M]), W, 1)}
    return model, list(outputs), refs


def _inputs(batch: int, steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(batch * 10 + steps)
    return [rng.uniform(-2.0, 2.0, (batch, steps, M)).astype(np.float32),
            rng.uniform(-2.0, 2.0, (batch, steps, U, M)).astype(np.float32),
            rng.uniform(-2.0, 2.0, (batch, steps, M)).astype(np.float32)]


def _targets(model, labels: list[str], directory: str) -> tuple:
    """(Keras 3 model saved and reloaded in safe mode, ONNX session) of the Keras 2 ``model``, as export builds them."""
    import keras

    from migration.targets import keras3, onnx_export
    from migration.targets.whole import Keras3Whole, OnnxWhole, walk

    config = model.get_config()
    weights = {layer.name: layer.get_weights() for layer in model.layers if type(layer).__name__ == "Dense"}
    ins, outs = walk(config, Keras3Whole({}, weights))
    path = os.path.join(directory, "whole.keras")
    keras3.save_block(keras.Model(ins, outs), path)
    whole = OnnxWhole({}, weights)
    _, outs = walk(config, whole)
    onnx_path = os.path.join(directory, "whole.onnx")
    onnx_export.save_block(whole.model(outs, labels), onnx_path)
    return keras3.load_block(path), onnx_export.session(onnx_path)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    import tensorflow as tf
    import tf_keras

    model, labels, refs = _models(tf, tf_keras)
    k3, sess = _targets(model, labels, str(tmp_path_factory.mktemp("tensordot")))
    runs = {}
    for shape in SHAPES:
        data = _inputs(*shape)
        runs[shape] = {"data": data, "keras2": [np.asarray(v) for v in model(data)],
                       "keras3": [np.asarray(v) for v in k3(data)],
                       "onnx": sess.run(None, dict(zip(("x3", "x4", "xd"), data)))}
    return {"labels": labels, "refs": refs, "runs": runs, "tf": tf, "tf_keras": tf_keras}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_each_spelling_equals_tensorflow_on_both_targets(built, shape):
    run = built["runs"][shape]
    batch, steps = shape
    for k, label in enumerate(built["labels"]):
        want = np.asarray(built["refs"][label](*run["data"]))
        assert want.shape[0] == batch and want.shape[1] in (steps, steps * U) and want.shape[-1] == K, want.shape
        np.testing.assert_allclose(run["keras2"][k], want, rtol=1e-6, atol=1e-6, err_msg=f"keras2 {label}")
        for target in ("keras3", "onnx"):
            got = run[target][k]
            assert got.shape == want.shape and got.dtype == want.dtype, (target, label, got.shape, want.shape)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{target} {label}")


def test_a_wrong_transpose_before_the_reshape_is_caught(built, tmp_path):
    """Negative control: batch and steps swapped before the [-1, M] reshape (same shapes, other rows) differs from
    ``tf.tensordot`` on both targets (batch == steps, so that the output shape alone cannot tell)."""
    model, labels, refs = _models(built["tf"], built["tf_keras"], perm=(1, 0, 2))
    k3, sess = _targets(model, labels, str(tmp_path))
    data = _inputs(4, 4)
    want = np.asarray(refs["tensordot_dense"](*data))
    for got in (np.asarray(k3(data)[0]), sess.run(None, dict(zip(("x3", "x4", "xd"), data)))[0]):
        assert got.shape == want.shape and np.max(np.abs(got - want)) > 1e-2


def test_a_reshape_to_a_shape_computed_from_values_is_still_refused_by_keras3(built):
    """Negative controls: a target shape computed from the tensor's values (not its shape), or a -1 beside another
    tensor's batch, has no exact Keras 3 form (ONNX's Reshape takes any shape tensor)."""
    from migration.targets.whole import Keras3Whole, NotExportable, walk

    tf, tf_keras = built["tf"], built["tf_keras"]
    x = tf_keras.Input((None, M), name="x")
    rows = tf.cast(tf.math.add(tf.math.multiply(tf.math.reduce_max(tf.math.abs(x)), 0.0), 2.0), tf.int32)
    model = tf_keras.Model(x, tf.reshape(x, tf.stack([rows, -1])))
    with pytest.raises(NotExportable, match="a reshape to a shape computed from tensor values"):
        walk(model.get_config(), Keras3Whole({}, {}))
    # [batch of ANOTHER tensor, -1, M]: not provably x's own batch axis, so no Reshape layer (two unknowns)
    other = tf_keras.Input((None,), name="other")
    model = tf_keras.Model([x, other], tf.reshape(x, tf.stack([tf.shape(other)[0], -1, M])))
    with pytest.raises(NotExportable, match="a reshape to more than one run-time dimension"):
        walk(model.get_config(), Keras3Whole({}, {}))


def test_products_of_dimensions_fold_their_static_factors_and_a_negative_factor_is_arithmetic():
    """``Prod`` keeps the run-time factors and one static product; ``d * -1`` (not a dimension) stays a tensor."""
    import keras

    from migration.targets.keras3_glue import Dim, Prod, apply, product

    x = keras.Input((None, M), name="x")
    b, t = Dim(x, 0), Dim(x, 1)
    assert product([2, 3]) == 6 and product([b]) == b and product([b, 1]) == b
    assert product([b, 3, Prod((t, 2))]) == Prod((b, t, 6))
    assert apply("math.multiply", b, {"y": t}) == [Prod((b, t))]
    assert apply("math.reduce_prod", apply("shape", x, {})[0], {"axis": [0]}) == [Prod((b, t, M))]
    for y in (-1, 0):
        (out,) = apply("math.multiply", b, {"y": y})
        assert not isinstance(out, (Dim, Prod)) and tuple(out.shape) == ()
