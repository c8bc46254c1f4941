"""TF 1.x's BeamSearchDecoder accepted a tensor ``length_penalty_weight`` (a placeholder fed at chat time, as real
chatbots do); legacy_rnn's does too, with the same scores as the constant weight (issue 21, point 9)."""
from __future__ import annotations

import numpy as np

import legacy_rnn
from legacy_rnn import seq2seq as s2s

tf = legacy_rnn.tf
v1 = tf.compat.v1


def _scores(weight, feed=None):
    with tf.Graph().as_default():
        v1.set_random_seed(3)
        penalty = v1.placeholder(tf.float32, []) if feed is not None else weight
        with v1.variable_scope("m", initializer=v1.random_uniform_initializer(-0.8, 0.9, seed=5)):
            embedding = v1.get_variable("embedding", [7, 4])
            cell = v1.nn.rnn_cell.GRUCell(5, bias_initializer=v1.constant_initializer(0.1))
            decoder = s2s.BeamSearchDecoder(cell, embedding, tf.fill([2], 1), 2, cell.zero_state(2 * 3, tf.float32),
                                            3, output_layer=v1.layers.Dense(7, name="proj"),
                                            length_penalty_weight=penalty)
            out, _, _ = s2s.dynamic_decode(decoder, maximum_iterations=6)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            return sess.run(out.beam_search_decoder_output.scores, {penalty: feed} if feed is not None else None)


def test_tensor_length_penalty_equals_the_constant():
    constant = _scores(0.7)
    fed = _scores(None, feed=0.7)
    np.testing.assert_allclose(fed, constant, rtol=1e-6)
    assert not np.allclose(_scores(0.0), constant)  # negative control: the penalty changes the scores
