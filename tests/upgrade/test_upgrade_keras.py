"""``upgrade --to keras``: the recognised patterns become tf_keras layers with the parity settings; the rest is
left in compat form and listed. The upgraded seed 002 (dynamic_rnn) trains to the same loss."""
from __future__ import annotations

from pathlib import Path

import pytest

from migration.upgrade import upgrade_source
from tests.upgrade.program_runner import GROUP

FIXTURES = Path(__file__).parent / "fixtures"
HEAD = "import tensorflow as tf\n"


def _keras(before: str) -> tuple[str, list[str]]:
    result = upgrade_source(before, "keras")
    return result.code, [f"{m.symbol}" for m in result.manual_checks]


def _body(code: str) -> list[str]:
    """The non-comment lines after the TensorFlow import (bootstrap and graph-mode lines are tested elsewhere)."""
    lines = code.split("\n")
    start = lines.index("import tf_keras  # rnn-migrate: Keras 2") + 1
    return [ln for ln in lines[start:] if ln.strip() and not ln.lstrip().startswith("#")]


KERAS_CASES = [
    ("LSTM + output dropout (seed 004)",
     "c = tf.contrib.rnn.BasicLSTMCell(64)\nc = tf.contrib.rnn.DropoutWrapper(cell=c, output_keep_prob=0.75)\n"
     "value, _ = tf.nn.dynamic_rnn(c, data, dtype=tf.float32)\n",
     ["_x1 = data",
      "_rnn1 = tf_keras.layers.LSTM(64, return_sequences=True, return_state=True)(_x1)",
      "_seq1 = tf_keras.layers.Dropout(rate=1 - (0.75))(_rnn1[0], training=True)  # DropoutWrapper has no inference switch",
      "value, _ = _seq1, tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_rnn1[2], h=_rnn1[1])"]),
    ("GRU keeps reset_after=False; sequence_length -> mask + zero_output_for_mask",
     "c = tf.nn.rnn_cell.GRUCell(8)\no, s = tf.nn.dynamic_rnn(c, x, sequence_length=lens, dtype=tf.float32)\n",
     ["_x1 = x",
      "_rnn1 = tf_keras.layers.GRU(8, return_sequences=True, return_state=True, reset_after=False, "
      "zero_output_for_mask=True)(_x1, mask=tf.sequence_mask(lens, maxlen=tf.shape(_x1)[1]))",
      "o, s = _rnn1[0], _rnn1[1]"]),
    ("LSTM initial_state (c, h) -> [h, c]; input_keep_prob -> dropout",
     "c = tf.nn.rnn_cell.LSTMCell(num_units=5, forget_bias=0.5)\nc = tf.nn.rnn_cell.DropoutWrapper(c, input_keep_prob=kp)\n"
     "o, s = tf.nn.dynamic_rnn(c, x, initial_state=s0)\n",
     ["_x1 = x",
      "_rnn1 = tf_keras.layers.LSTM(5, return_sequences=True, return_state=True, dropout=1 - (kp))"
      "(_x1, initial_state=[(s0)[1], (s0)[0]], training=True)",
      "o, s = _rnn1[0], tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_rnn1[2], h=_rnn1[1])"]),
    ("static_rnn: stack the list in, unstack it out",
     "cell = tf.contrib.rnn.BasicRNNCell(num_units=4)\nouts, st = tf.contrib.rnn.static_rnn(cell=cell, inputs=xs, initial_state=s0)\n",
     ["_x1 = tf.stack(xs, axis=1)",
      "_rnn1 = tf_keras.layers.SimpleRNN(4, return_sequences=True, return_state=True)(_x1, initial_state=[s0])",
      "outs, st = tf.unstack(_rnn1[0], axis=1), _rnn1[1]"]),
    ("embedding_lookup on a numpy matrix -> frozen Embedding",
     "import numpy as np\nM = np.load('w.npy')\ne = tf.nn.embedding_lookup(M, ids)\n",
     ["import numpy as np", "M = np.load('w.npy')",
      "e = tf_keras.layers.Embedding(M.shape[0], M.shape[1], "
      "embeddings_initializer=tf_keras.initializers.Constant(M), trainable=False)(ids)"]),
]


KERAS_CASES += [
    ("MultiRNNCell of a cell and a dropout-wrapped cell: one layer each, mask and per-layer initial state",
     "a = tf.nn.rnn_cell.LSTMCell(4)\nb = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), output_keep_prob=kp)\n"
     "m = tf.nn.rnn_cell.MultiRNNCell([a, b])\no, s = tf.nn.dynamic_rnn(m, x, sequence_length=L, initial_state=s0)\n",
     ["_x1 = x", "_h1 = _x1",
      "_rnn1_0 = tf_keras.layers.LSTM(4, return_sequences=True, return_state=True, zero_output_for_mask=True)"
      "(_h1, mask=tf.sequence_mask(L, maxlen=tf.shape(_x1)[1]), initial_state=[((s0)[0])[1], ((s0)[0])[0]])",
      "_h1 = _rnn1_0[0]",
      "_rnn1_1 = tf_keras.layers.GRU(3, return_sequences=True, return_state=True, reset_after=False, "
      "zero_output_for_mask=True)(_h1, mask=tf.sequence_mask(L, maxlen=tf.shape(_x1)[1]), initial_state=[(s0)[1]])",
      "_h1 = tf_keras.layers.Dropout(rate=1 - (kp))(_rnn1_1[0], training=True)",
      "o, s = _h1, (tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_rnn1_0[2], h=_rnn1_0[1]), _rnn1_1[1])"]),
    ("MultiRNNCell of a comprehension held in a list: a loop over the layers",
     "cells = [tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(8), output_keep_prob=kp) for _ in range(n)]\n"
     "stack = tf.nn.rnn_cell.MultiRNNCell(cells)\no, s = tf.nn.dynamic_rnn(stack, x, dtype=tf.float32)\n",
     ["_x1 = x", "_h1, _states1 = _x1, []", "for _k1 in range(n):",
      "    _r1 = tf_keras.layers.LSTM(8, return_sequences=True, return_state=True)(_h1)",
      "    _h1 = tf_keras.layers.Dropout(rate=1 - (kp))(_r1[0], training=True)",
      "    _states1.append(tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_r1[2], h=_r1[1]))",
      "o, s = _h1, tuple(_states1)"]),
    ("bidirectional_dynamic_rnn: Bidirectional(merge_mode=None) with the mask, states (fw, bw)",
     "f = tf.nn.rnn_cell.GRUCell(5)\nb = tf.nn.rnn_cell.GRUCell(5)\n"
     "(of, ob), (sf, sb) = tf.nn.bidirectional_dynamic_rnn(f, b, x, sequence_length=L, dtype=tf.float32)\n",
     ["_x1 = x",
      "_rnn1 = tf_keras.layers.Bidirectional(tf_keras.layers.GRU(5, return_sequences=True, return_state=True, "
      "reset_after=False, zero_output_for_mask=True), backward_layer=tf_keras.layers.GRU(5, return_sequences=True, "
      "return_state=True, go_backwards=True, reset_after=False, zero_output_for_mask=True), merge_mode=None)"
      "(_x1, mask=tf.sequence_mask(L, maxlen=tf.shape(_x1)[1]))",
      "(of, ob), (sf, sb) = (_rnn1[0], _rnn1[1]), (_rnn1[2], _rnn1[3])"]),
    ("static_bidirectional_rnn imported in try/except: concat merge, LSTM states from Keras [h, c]",
     "try:\n    from tensorflow.contrib.rnn import static_bidirectional_rnn\nexcept ImportError:\n"
     "    static_bidirectional_rnn = tf.nn.bidirectional_rnn\nf = tf.contrib.rnn.BasicLSTMCell(3)\n"
     "b = tf.contrib.rnn.BasicLSTMCell(3)\nouts, sf, sb = static_bidirectional_rnn(f, b, xs, dtype=tf.float32)\n",
     ["try:", "    from tensorflow.compat.v1.nn import static_bidirectional_rnn", "except ImportError:",
      "    static_bidirectional_rnn = tf.nn.bidirectional_rnn", "_x1 = tf.stack(xs, axis=1)",
      "_rnn1 = tf_keras.layers.Bidirectional(tf_keras.layers.LSTM(3, return_sequences=True, return_state=True), "
      "backward_layer=tf_keras.layers.LSTM(3, return_sequences=True, return_state=True, go_backwards=True), "
      "merge_mode='concat')(_x1)",
      "outs, sf, sb = tf.unstack(_rnn1[0], axis=1), tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_rnn1[2], h=_rnn1[1]), "
      "tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_rnn1[4], h=_rnn1[3])"]),
    ("a cell built by a helper function: the return is followed with the call's arguments",
     "def make_cell(n, kp):\n    cell = tf.nn.rnn_cell.BasicLSTMCell(n * 2)\n"
     "    return tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=kp)\ncell = make_cell(H, 0.9)\n"
     "o, s = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n",
     ["def make_cell(n, kp):", "    cell = tf.compat.v1.nn.rnn_cell.BasicLSTMCell(n * 2)",
      "    return tf.compat.v1.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=kp)", "_x1 = x",
      "_rnn1 = tf_keras.layers.LSTM(H * 2, return_sequences=True, return_state=True)(_x1)",
      "_seq1 = tf_keras.layers.Dropout(rate=1 - (0.9))(_rnn1[0], training=True)  # DropoutWrapper has no inference switch",
      "o, s = _seq1, tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_rnn1[2], h=_rnn1[1])"]),
    ("DropoutWrapper chain: input then output keep probabilities",
     "c = tf.nn.rnn_cell.GRUCell(3)\nc = tf.nn.rnn_cell.DropoutWrapper(c, input_keep_prob=0.8)\n"
     "c = tf.nn.rnn_cell.DropoutWrapper(c, output_keep_prob=0.7)\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n",
     ["_x1 = x",
      "_rnn1 = tf_keras.layers.GRU(3, return_sequences=True, return_state=True, reset_after=False, dropout=1 - (0.8))"
      "(_x1, training=True)",
      "_seq1 = tf_keras.layers.Dropout(rate=1 - (0.7))(_rnn1[0], training=True)  # DropoutWrapper has no inference switch",
      "o, s = _seq1, _rnn1[1]"]),
    ("a stack filled by a for loop: n fresh cells appended to an empty list",
     "cells = []\nfor _ in range(n_layers):\n    c = tf.nn.rnn_cell.GRUCell(4)\n"
     "    c = tf.nn.rnn_cell.DropoutWrapper(c, output_keep_prob=kp)\n    cells.append(c)\n"
     "m = tf.nn.rnn_cell.MultiRNNCell(cells=cells, state_is_tuple=True)\no, s = tf.nn.dynamic_rnn(m, x, dtype=tf.float32)\n",
     ["_x1 = x", "_h1, _states1 = _x1, []", "for _k1 in range(n_layers):",
      "    _r1 = tf_keras.layers.GRU(4, return_sequences=True, return_state=True, reset_after=False)(_h1)",
      "    _h1 = tf_keras.layers.Dropout(rate=1 - (kp))(_r1[0], training=True)", "    _states1.append(_r1[1])",
      "o, s = _h1, tuple(_states1)"]),
    ("a nested helper with a Python-guarded DropoutWrapper: keep = (kp) if (cond) else 1.0 (rate 0 = identity)",
     "def build(x, kp, n):\n    def make_cell():\n        cell = tf.nn.rnn_cell.GRUCell(n)\n"
     "        if kp < 1:\n            cell = tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=kp)\n"
     "        return cell\n    m = tf.nn.rnn_cell.MultiRNNCell([make_cell() for _ in range(2)])\n"
     "    o, s = tf.nn.dynamic_rnn(m, x, dtype=tf.float32)\n    return o\n",
     ["def build(x, kp, n):", "    def make_cell():", "        cell = tf.compat.v1.nn.rnn_cell.GRUCell(n)",
      "        if kp < 1:", "            cell = tf.compat.v1.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=kp)",
      "        return cell", "    _x1 = x", "    _h1, _states1 = _x1, []", "    for _k1 in range(2):",
      "        _r1 = tf_keras.layers.GRU(n, return_sequences=True, return_state=True, reset_after=False)(_h1)",
      "        _h1 = tf_keras.layers.Dropout(rate=1 - ((kp) if (kp < 1) else 1.0))(_r1[0], training=True)",
      "        _states1.append(_r1[1])", "    o, s = _h1, tuple(_states1)", "    return o"]),
    ("tf.contrib.rnn.LSTMBlockCell (no clip, no peepholes) -> LSTM: LSTMCell's layout and numbers",
     "c = tf.contrib.rnn.LSTMBlockCell(5, forget_bias=0.0)\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n",
     ["_x1 = x", "_rnn1 = tf_keras.layers.LSTM(5, return_sequences=True, return_state=True)(_x1)",
      "o, s = _rnn1[0], tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_rnn1[2], h=_rnn1[1])"]),
    ("swap_memory / parallel_iterations (while-loop options, same numbers) do not block the rewrite",
     "c = tf.nn.rnn_cell.GRUCell(3)\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32, swap_memory=True, "
     "parallel_iterations=8)\n",
     ["_x1 = x", "_rnn1 = tf_keras.layers.GRU(3, return_sequences=True, return_state=True, reset_after=False)(_x1)",
      "o, s = _rnn1[0], _rnn1[1]"]),
    ("a comprehension over layer sizes: one layer per item, the item renamed _layer_arg in the loop",
     "m = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.LSTMCell(n) for n in [H] * k])\n"
     "o, s = tf.nn.dynamic_rnn(m, x, dtype=tf.float32)\n",
     ["_x1 = x", "_h1, _states1 = _x1, []", "for _k1, _layer_arg in enumerate([H] * k):",
      "    _r1 = tf_keras.layers.LSTM(_layer_arg, return_sequences=True, return_state=True)(_h1)", "    _h1 = _r1[0]",
      "    _states1.append(tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c=_r1[2], h=_r1[1]))",
      "o, s = _h1, tuple(_states1)"]),
    ("bidirectional of cells with output dropout: two stacks, bw on the input reversed (no lengths: tf.reverse)",
     "f = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), output_keep_prob=kp)\n"
     "b = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), output_keep_prob=kp)\n"
     "outs, sf, sb = tf.nn.static_bidirectional_rnn(f, b, xs, dtype=tf.float32)\n",
     ["_x1 = tf.stack(xs, axis=1)", "_h1f = _x1",
      "_rnn1f_0 = tf_keras.layers.GRU(3, return_sequences=True, return_state=True, reset_after=False)(_h1f)",
      "_h1f = tf_keras.layers.Dropout(rate=1 - (kp))(_rnn1f_0[0], training=True)",
      "_h1b = tf.reverse(_x1, axis=[1])",
      "_rnn1b_0 = tf_keras.layers.GRU(3, return_sequences=True, return_state=True, reset_after=False)(_h1b)",
      "_h1b = tf_keras.layers.Dropout(rate=1 - (kp))(_rnn1b_0[0], training=True)",
      "_ob1 = tf.reverse(_h1b, axis=[1])",
      "outs, sf, sb = tf.unstack(tf.concat([_h1f, _ob1], axis=-1), axis=1), (_rnn1f_0[1],), (_rnn1b_0[1],)"]),
]


@pytest.mark.parametrize("rule, before, body", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_keras_pattern(rule, before, body):
    code, manual = _keras(HEAD + before)
    assert _body(code) == body
    assert manual == []
    assert "rnn-migrate convert CKPT OUT_DIR" in code or "Embedding" in code
    compile(code, "<upgraded>", "exec")


def test_forget_bias_note_names_the_value():
    code, _ = _keras(HEAD + "c = tf.nn.rnn_cell.LSTMCell(5, forget_bias=0.5)\no, s = tf.nn.dynamic_rnn(c, x)\n")
    assert "forget_bias=0.5 is not a Keras setting" in code


@pytest.mark.parametrize("before, listed", [
    # peepholes / num_proj have no stock Keras layer: not recognised, left in compat form, listed
    ("c = tf.nn.rnn_cell.LSTMCell(5, use_peepholes=True)\no, s = tf.nn.dynamic_rnn(c, x)\n",
     ["tf.nn.rnn_cell.LSTMCell", "tf.nn.dynamic_rnn"]),
    # cells the patterns cannot see (a, b, f unknown) stay in compat form
    ("c = tf.nn.rnn_cell.MultiRNNCell([a, b])\no, s = tf.nn.dynamic_rnn(c, x)\n",
     ["tf.nn.rnn_cell.MultiRNNCell", "tf.nn.dynamic_rnn"]),
    ("o, s = tf.nn.bidirectional_dynamic_rnn(f, b, x)\n", ["tf.nn.bidirectional_dynamic_rnn"]),
    # [cell] * n shares one weight set across layers: no stock Keras equivalent
    ("c = tf.nn.rnn_cell.GRUCell(3)\nm = tf.nn.rnn_cell.MultiRNNCell([c] * 2)\no, s = tf.nn.dynamic_rnn(m, x)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.rnn_cell.MultiRNNCell", "tf.nn.dynamic_rnn"]),
    ("c = tf.nn.rnn_cell.GRUCell(3)\nm = tf.nn.rnn_cell.MultiRNNCell([c, c])\no, s = tf.nn.dynamic_rnn(m, x)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.rnn_cell.MultiRNNCell", "tf.nn.dynamic_rnn"]),
    ("W = tf.get_variable('W', [10, 3])\ne = tf.nn.embedding_lookup(W, ids)\n", ["tf.nn.embedding_lookup"]),
    ("c = tf.nn.rnn_cell.GRUCell(3)\no, s = tf.nn.dynamic_rnn(c, x, time_major=True)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.dynamic_rnn"]),
    # state_is_tuple=False concatenates the state: a Keras state list is a different structure
    ("c = tf.nn.rnn_cell.BasicLSTMCell(3, state_is_tuple=False)\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n",
     ["tf.nn.rnn_cell.BasicLSTMCell", "tf.nn.dynamic_rnn"]),
    ("cs = [tf.nn.rnn_cell.GRUCell(3), tf.nn.rnn_cell.GRUCell(3)]\n"
     "m = tf.nn.rnn_cell.MultiRNNCell(cs, state_is_tuple=False)\no, s = tf.nn.dynamic_rnn(m, x, dtype=tf.float32)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.rnn_cell.MultiRNNCell", "tf.nn.dynamic_rnn"]),
    # a guard the rewrite cannot turn into a keep probability: a TensorFlow condition, an else branch
    ("def mk():\n    c = tf.nn.rnn_cell.GRUCell(3)\n    if tf.less(kp, 1.0):\n"
     "        c = tf.nn.rnn_cell.DropoutWrapper(c, output_keep_prob=kp)\n    return c\n"
     "c = mk()\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n",
     ["tf.nn.rnn_cell.DropoutWrapper", "tf.nn.rnn_cell.GRUCell", "tf.nn.dynamic_rnn"]),
    ("def mk():\n    c = tf.nn.rnn_cell.GRUCell(3)\n    if training:\n"
     "        c = tf.nn.rnn_cell.DropoutWrapper(c, output_keep_prob=kp)\n    else:\n        c = other\n    return c\n"
     "c = mk()\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n",
     ["tf.nn.rnn_cell.DropoutWrapper", "tf.nn.rnn_cell.GRUCell", "tf.nn.dynamic_rnn"]),
    # a clipped or peephole LSTMBlockCell has no stock Keras layer
    ("c = tf.contrib.rnn.LSTMBlockCell(5, cell_clip=3.0)\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n",
     ["tf.nn.dynamic_rnn"]),
    ("c = tf.contrib.rnn.LSTMBlockCell(5, use_peephole=True)\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n",
     ["tf.nn.dynamic_rnn"]),
    # static_rnn has no swap_memory: the TF1 call itself is wrong, not rewritten
    ("c = tf.nn.rnn_cell.GRUCell(3)\no, s = tf.nn.static_rnn(c, xs, dtype=tf.float32, swap_memory=True)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.static_rnn"]),
    # loops the stack rule cannot follow: the loop index sizes the layer; the list also gets a cell outside the
    # loop; the list did not start empty
    ("cs = []\nfor i in range(2):\n    cs.append(tf.nn.rnn_cell.GRUCell(sizes[i]))\n"
     "m = tf.nn.rnn_cell.MultiRNNCell(cs)\no, s = tf.nn.dynamic_rnn(m, x, dtype=tf.float32)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.rnn_cell.MultiRNNCell", "tf.nn.dynamic_rnn"]),
    ("cs = []\nfor _ in range(2):\n    cs.append(tf.nn.rnn_cell.GRUCell(3))\ncs.append(extra)\n"
     "m = tf.nn.rnn_cell.MultiRNNCell(cs)\no, s = tf.nn.dynamic_rnn(m, x, dtype=tf.float32)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.rnn_cell.MultiRNNCell", "tf.nn.dynamic_rnn"]),
    ("cs = [first]\nfor _ in range(2):\n    cs.append(tf.nn.rnn_cell.GRUCell(3))\n"
     "m = tf.nn.rnn_cell.MultiRNNCell(cs)\no, s = tf.nn.dynamic_rnn(m, x, dtype=tf.float32)\n",
     ["tf.nn.rnn_cell.GRUCell", "tf.nn.rnn_cell.MultiRNNCell", "tf.nn.dynamic_rnn"]),
])
def test_unrecognised_patterns_are_left_and_listed(before, listed):
    code, manual = _keras(HEAD + before)
    assert sorted(set(manual)) == sorted(listed)
    assert "tf_keras.layers.LSTM" not in code and "tf_keras.layers.GRU" not in code


def test_run_time_cell_choice_is_manual_with_every_candidate():
    src = HEAD + ("cell_fn = tf.nn.rnn_cell.GRUCell if use_gru else tf.nn.rnn_cell.BasicLSTMCell\n"
                  "def make(n):\n    return cell_fn(n)\nc = make(4)\no, s = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)\n")
    result = upgrade_source(src, "keras")
    notes = [m for m in result.manual_checks if "run time" in m.reason]
    assert len(notes) == 1 and "one of GRUCell, BasicLSTMCell" in notes[0].reason
    assert "tf_keras.layers" not in result.code  # neither candidate is guessed
    from migration.upgrade.scan import scan_source

    info = [f for f in scan_source(src) if f.symbol == "run-time cell choice"]
    assert len(info) == 1 and "GRUCell, BasicLSTMCell" in info[0].reason


def test_cell_used_elsewhere_is_kept():
    code, _ = _keras(HEAD + "c = tf.nn.rnn_cell.GRUCell(3)\nz = c.zero_state(2, tf.float32)\n"
                     "o, s = tf.nn.dynamic_rnn(c, x, initial_state=z)\n")
    assert "c = tf.compat.v1.nn.rnn_cell.GRUCell(3)" in code and "tf_keras.layers.GRU(3" in code


def test_seed004_keras_upgrade():
    code, manual = _keras((FIXTURES / "seed004_sentiment.py").read_text())
    assert "tf_keras.layers.LSTM(lstmUnits, return_sequences=True, return_state=True)(_x1)" in code
    assert "tf_keras.layers.Dropout(rate=1 - (0.75))" in code
    assert "tf_keras.initializers.Constant(wordVectors), trainable=False)(input_data)" in code
    assert not [ln for ln in code.splitlines() if "BasicLSTMCell(" in ln and not ln.lstrip().startswith("#")]
    # the embedding_lookup(...).eval() inside print() is not a recognised statement: listed, not guessed
    assert manual == ["tf.nn.embedding_lookup"]


@pytest.mark.slow
@pytest.mark.xdist_group(GROUP)  # with the other program runs (one zygote)
def test_keras_upgraded_seed002_dynamic_rnn_trains_to_documented_loss(tmp_path, program_runner):
    from tests.upgrade.test_upgrade_compat import run_upgraded

    code, manual = _keras((FIXTURES / "seed002_dynamic_rnn.py").read_text())
    code_lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith("#")]
    assert manual == [] and "tf_keras.layers.SimpleRNN(state_size" in code
    assert not [ln for ln in code_lines if "dynamic_rnn" in ln or "BasicRNNCell" in ln]
    prog = tmp_path / "echo_keras.py"
    prog.write_text(code)
    losses = run_upgraded(prog, tmp_path, program_runner)
    # The documented end point (~0.52: the t-3 dependency learnt). The first average depends on the Keras
    # initialiser draws (0.569 with seed 0), so only "it went down to the documented loss" is asserted here.
    assert len(losses) == 9 and losses[-1] < 0.55 and losses[0] > losses[-1] + 0.01


@pytest.mark.parametrize("before, symbol, reason", [
    ("def f(cf, cb, x):\n    o, s = tf.nn.bidirectional_dynamic_rnn(cf, cb, x, dtype=tf.float32)\n",
     "tf.nn.bidirectional_dynamic_rnn", "the cell `cf` is not built in this scope"),
    ("o, s = tf.nn.dynamic_rnn(self.cell, x)\n", "tf.nn.dynamic_rnn", "the cell `self.cell` is an attribute"),
    ("o, s = tf.nn.dynamic_rnn(self._make(3), x)\n", "tf.nn.dynamic_rnn",
     "the cell comes from the method call `self._make(3)`"),
    ("c = tf.nn.rnn_cell.GRUCell(3)\no, s = tf.nn.dynamic_rnn(c, x, time_major=True)\n", "tf.nn.dynamic_rnn",
     "argument(s) time_major have no exact Keras setting"),
    ("f = tf.nn.rnn_cell.GRUCell(2)\nb = tf.nn.rnn_cell.GRUCell(2)\n"
     "o, s = tf.nn.bidirectional_dynamic_rnn(f, b, x, initial_state_fw=a)\n", "tf.nn.bidirectional_dynamic_rnn",
     "initial_state_fw / initial_state_bw are not rewritten"),
])
def test_rnn_call_left_in_compat_form_says_why(before, symbol, reason):
    result = upgrade_source(HEAD + before, "keras")
    found = [m for m in result.manual_checks if m.symbol == symbol]
    assert len(found) == 1 and reason in found[0].reason and "left in compat form" in found[0].reason
    assert "tf_keras.layers" not in result.code
