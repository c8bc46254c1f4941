"""Real checkpoints for the TensorFlow-free readers (migration.core.tfproto), beside the suite's RNN fixtures:

* ``dtypes``: variables of every dtype a bundle stores raw (float16/32/64, bfloat16, int8..int64, uint8..uint64,
  bool, complex64/128) and a string variable; partitioned variables split on axis 0 (unequal parts) and on axis 1;
  Consts of those dtypes in tensor_content and typed-value form (``tf.constant(0.5, shape=...)`` broadcasts one
  value); a ``tf.while_loop`` (TF 2.x's form: its body is a library function with Consts of its own); saved by a
  sharded ``Saver`` with variables on two CPU devices, so the index names two data shards.
"""
from __future__ import annotations

import os

import numpy as np

import legacy_rnn
from legacy_rnn import tf, v1

NUMERIC = [tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8,
           tf.uint16, tf.uint32, tf.uint64, tf.bool, tf.complex64, tf.complex128]


def _value(rng, dtype: tf.DType, shape) -> np.ndarray:
    if dtype == tf.bool:
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.is_complex:
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype.as_numpy_dtype)
    if dtype.is_floating:
        return rng.normal(0, 2, shape).astype(dtype.as_numpy_dtype)
    return rng.integers(0, 100, shape).astype(dtype.as_numpy_dtype)


def build_dtypes(directory, seed: int = 31) -> str:
    rng = np.random.default_rng(seed)
    with legacy_rnn.new_graph(seed) as graph:
        for k, dtype in enumerate(NUMERIC):
            with tf.device(f"/cpu:{k % 2}"):
                v1.get_variable(f"var_{dtype.name}", initializer=tf.constant(_value(rng, dtype, (2, 3)), dtype))
                tf.identity(tf.constant(_value(rng, dtype, (3, 2)), dtype), name=f"const_{dtype.name}")
        v1.get_variable("words", initializer=tf.constant([b"alpha", b"", b"\xffbeta"]))
        tf.constant([b"x", b"yz"], name="const_string")
        tf.constant(0.5, shape=[3, 4], name="broadcast_float")
        tf.constant(7, shape=[2, 2], dtype=tf.int64, name="broadcast_int64")
        with tf.device("/cpu:1"):
            v1.get_variable("tall", [10, 3], partitioner=v1.fixed_size_partitioner(4))
        v1.get_variable("wide", [4, 9], partitioner=v1.fixed_size_partitioner(3, axis=1))
        counter = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s * tf.constant(1.5) + 0.25),
                                [tf.constant(0), tf.constant(1.0)])
        tf.identity(counter[1], name="loop_out")
        config = v1.ConfigProto(device_count={"CPU": 2}, intra_op_parallelism_threads=1,
                                inter_op_parallelism_threads=1)
        with v1.Session(graph=graph, config=config) as sess:
            sess.run(v1.global_variables_initializer())
            os.makedirs(directory, exist_ok=True)
            return v1.train.Saver(sharded=True).save(sess, os.path.join(str(directory), "model.ckpt"))
