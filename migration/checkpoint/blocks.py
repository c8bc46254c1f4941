"""Build one RNN block on both sides: the Keras 2 block model (what ``convert`` writes) and the TF1 graph (what
``verify`` compares it with).

Block model contract (also in README.md, "Checkpoint migration"):

* inputs ``[x, sequence_length]``: x float32 ``[batch, time, input_size]`` (batch-major), sequence_length int32
  ``[batch]``;
* outputs ``tf.nest.flatten((outputs, final_state))`` exactly as TF1 ``dynamic_rnn`` (``bidirectional_dynamic_rnn``
  for fw/bw blocks) returns them over that block with dropout off: LSTM states as ``c, h`` (``c, m`` with
  projection; a row's ``state_labels`` where it names them: a GridLSTM cell's state tuple fields), stacked cells
  layer by layer, fw before bw; outputs past a sequence's length are zero.
"""
from __future__ import annotations

from typing import Sequence

from migration.core.specs import CellSpec
from migration.families import family, keras_cell, legacy_cell

DIRECTIONS = ("fw", "bw")


def output_labels(directions: dict[str, Sequence[CellSpec]]) -> list[str]:
    """Names of the flat outputs, in order (``outputs``, ``state/c`` ... or ``fw/outputs``, ``bw/outputs`` ...)."""

    def states(prefix: str, specs: Sequence[CellSpec]) -> list[str]:
        out = []
        for k, spec in enumerate(specs):
            layer = f"layer{k}/" if len(specs) > 1 else ""
            labels = family(spec).state_labels  # the row's own names (a grid's state tuple fields)
            parts = labels(spec) if labels else ((("c", "m") if spec.num_proj else ("c", "h")) if spec.is_lstm
                                                 else ("h",))
            out += [f"{prefix}state/{layer}{p}" for p in parts]
        return out

    if set(directions) == set(DIRECTIONS):
        return ["fw/outputs", "bw/outputs"] + states("fw/", directions["fw"]) + states("bw/", directions["bw"])
    return ["outputs"] + states("", directions[""])


def build_keras_block(directions: dict[str, Sequence[CellSpec]], input_size: int, name: str):
    """Return ``(model, cells)``: the functional block model and ``{direction: [keras cell per layer]}``."""
    import modern_rnn
    from modern_rnn import keras

    x = keras.Input((None, input_size), dtype="float32", name="x")
    length = keras.Input((), dtype="int32", name="sequence_length")
    cells: dict[str, list] = {}

    def make(direction: str):
        specs = directions[direction]  # each layer's own input size: the block's, then the layer below's output
        layer_cells = [keras_cell(s, n) for s, n in zip(specs, [input_size] + [s.output_size for s in specs[:-1]])]
        cells[direction] = layer_cells
        return layer_cells[0] if len(layer_cells) == 1 else modern_rnn.multi_rnn_cell(layer_cells)

    if set(directions) == set(DIRECTIONS):
        cell_fw, cell_bw = make("fw"), make("bw")
        (out_fw, out_bw), (st_fw, st_bw) = modern_rnn.bidirectional_dynamic_rnn(cell_fw, cell_bw, x, sequence_length=length)
        flat = [out_fw, out_bw] + modern_rnn.flatten_state(st_fw, cell_fw) + modern_rnn.flatten_state(st_bw, cell_bw)
    else:
        cell = make("")
        outputs, states = modern_rnn.dynamic_rnn(cell, x, sequence_length=length)
        flat = [outputs] + modern_rnn.flatten_state(states, cell)
    model = keras.Model([x, length], flat, name=name)
    return model, cells


_VERIFY_SCOPE = "verify_block"


def build_tf1_block(directions: dict[str, Sequence[CellSpec]], input_size: int, time_steps: int):
    """Inside the current default graph: placeholders and the TF1 block under ``verify_block``.

    Returns ``(x, length, flat_outputs, variables)`` where ``variables`` maps the variable's path relative to the
    block scope (``basic_lstm_cell/kernel``, ``fw/multi_rnn_cell/cell_1/gru_cell/gates/bias``) to the graph variable.
    """
    import legacy_rnn
    import tensorflow as tf

    v1 = tf.compat.v1
    x = v1.placeholder(tf.float32, [None, time_steps, input_size], name="x")
    length = v1.placeholder(tf.int32, [None], name="sequence_length")

    def make(direction: str):
        specs = directions[direction]
        made = [legacy_cell(s) for s in specs]
        return made[0] if len(made) == 1 else legacy_rnn.multi_rnn_cell(made)

    if set(directions) == set(DIRECTIONS):
        outputs, states = legacy_rnn.bidirectional_dynamic_rnn(make("fw"), make("bw"), x, sequence_length=length,
                                                               scope=_VERIFY_SCOPE)
        flat = tf.nest.flatten((outputs, states))
    elif directions[""][0].kind == "handwritten":
        spec = directions[""][0]
        step = legacy_rnn.handwritten_rnn_cell(spec.units, input_size, scope=f"{_VERIFY_SCOPE}/rnn_cell")
        state = tf.zeros([tf.shape(x)[0], spec.units])
        outs = []
        for t in range(time_steps):  # dynamic_rnn's sequence_length semantics around the seed's own step
            new = step(x[:, t], state)
            keep = tf.expand_dims(t < length, 1)
            state = tf.where(keep, new, state)
            outs.append(tf.where(keep, new, tf.zeros_like(new)))
        flat = [tf.stack(outs, 1), state]
    else:
        outputs, state = legacy_rnn.dynamic_rnn(make(""), x, sequence_length=length, scope=_VERIFY_SCOPE)
        flat = tf.nest.flatten((outputs, state))
    variables = {v.op.name[len(_VERIFY_SCOPE) + 1:]: v for v in v1.global_variables()
                 if v.op.name.startswith(_VERIFY_SCOPE + "/")}
    return x, length, flat, variables


def run_restored(graph, prefix: str, name_map: dict, fetches, feeds: dict) -> list:
    """Restore ``name_map`` (checkpoint key -> variable of ``graph``) from ``prefix`` by name (tf-slim) and run
    ``fetches``: the run of a TF1 graph rebuilt from our reading (the weaker reference of ``verify``). A value may be
    a list of variables restored from the same key (the fw and bw of one shared cell object)."""
    import legacy_rnn

    sess = legacy_rnn.new_session(graph)
    try:
        legacy_rnn.initialize(sess)
        many = {k: v for k, v in name_map.items() if isinstance(v, list)}
        legacy_rnn.restore_renamed(sess, prefix, {k: v[0] if k in many else v for k, v in name_map.items()})
        for variables in many.values():
            value = sess.run(variables[0])
            for var in variables[1:]:
                var.load(value, sess)
        return sess.run(fetches, feeds)
    finally:
        sess.close()
