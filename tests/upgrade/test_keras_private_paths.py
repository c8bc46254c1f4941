"""``upgrade --to keras`` on the shapes issue 21 found (cause 7): ``bidirectional_dynamic_rnn`` imported from TF 1.x's
private module (``from tensorflow.python.ops.rnn import bidirectional_dynamic_rnn as bi_rnn``) with cells built
inline in the call gets exactly the Keras code the public spelling gets (that code's numbers are checked against
the TF1 graph by ``test_keras_parity.py``); a cell stepped by hand in a Python loop that does more than the step is
left in compat form and listed, never half-rewritten (a loop that only steps the cell becomes one layer:
``test_keras_unroll.py``)."""
from __future__ import annotations

import pytest

from migration.upgrade import upgrade_source

BODY = '''x = tf.placeholder(tf.float32, [None, 7, 3])
lens = tf.placeholder(tf.int32, [None])
(fw, bw), _ = {call}({cell}(5), {cell}(5), inputs=x, sequence_length=lens, dtype=tf.float32)
out = tf.concat((fw, bw), 2)
'''
SPELLINGS = {
    "public": ("import tensorflow as tf\n", "tf.nn.bidirectional_dynamic_rnn", "tf.nn.rnn_cell.{}"),
    "private module": ("import tensorflow as tf\nfrom tensorflow.python.ops.rnn import bidirectional_dynamic_rnn "
                       "as bi_rnn\n", "bi_rnn", "tf.nn.rnn_cell.{}"),
    "private module, contrib cells": ("import tensorflow as tf\nfrom tensorflow.python.ops import rnn\n"
                                      "from tensorflow.contrib import rnn as contrib_rnn\n",
                                      "rnn.bidirectional_dynamic_rnn", "contrib_rnn.{}"),
}


def _keras_block(header: str, call: str, cell: str) -> list[str]:
    """The lines from the first Keras line on (the imports above them differ by spelling, by design)."""
    code = upgrade_source(header + BODY.format(call=call, cell=cell), "keras").code.splitlines()
    return code[next(i for i, line in enumerate(code) if line.startswith("# rnn-migrate: tf.nn.bidir")):]


@pytest.mark.parametrize("cell, layer", [("GRUCell", "GRU(5"), ("LSTMCell", "LSTM(5")])
def test_private_module_bidirectional_with_inline_cells_is_the_public_rewrite(cell, layer):
    blocks = {name: _keras_block(h, c, f.format(cell)) for name, (h, c, f) in SPELLINGS.items()}
    public = blocks.pop("public")
    assert any("tf_keras.layers.Bidirectional(tf_keras.layers." + layer in line for line in public)
    assert blocks == {name: public for name in blocks}


def test_negative_control_a_different_call_gives_a_different_block():
    """The comparison can fail: without sequence_length the Keras block differs (no mask)."""
    header, call, cell = SPELLINGS["private module"]
    with_lengths = _keras_block(header, call, cell.format("GRUCell"))
    code = upgrade_source(header + BODY.format(call=call, cell=cell.format("GRUCell")).replace(
        "sequence_length=lens, ", ""), "keras").code.splitlines()
    start = next(i for i, line in enumerate(code) if line.startswith("# rnn-migrate: tf.nn.bidir"))
    assert code[start:] != with_lengths


def test_a_cell_stepped_by_hand_stays_compat_and_is_listed():
    src = ("import tensorflow as tf\nx = tf.placeholder(tf.float32, [None, 7, 3])\ncell = tf.nn.rnn_cell.LSTMCell(5)\n"
           "state = cell.zero_state(tf.shape(x)[0], tf.float32)\nouts = []\nfor t in range(7):\n"
           "    out, state = cell(x[:, t, :], state)\n    outs.append(tf.nn.relu(out))\n")
    result = upgrade_source(src, "keras")
    assert result.code == upgrade_source(src, "compat").code  # nothing of Keras written
    assert "tf_keras.layers" not in result.code
    assert [m.symbol for m in result.manual_checks] == ["tf.nn.rnn_cell.LSTMCell"]
    assert "stepped by hand in the loop at line" in result.manual_checks[0].reason
