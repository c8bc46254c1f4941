"""Build one equivalence case on both sides and share weights through the converters.

``Case`` describes a row of the table: cell spec x unroll style x direction x layers x sequence_length x time_major.
The TF1 side is a real graph (``legacy_rnn``) run in a ``tf.compat.v1.Session``; the Keras side is eager
(``modern_rnn``). Outputs are normalised to batch-major ``[B, T, H]`` (fw and bw concatenated) and states to the flat
TF1 order (c, h per LSTM layer; fw then bw).
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Callable, Optional

import numpy as np

import legacy_rnn
import modern_rnn
from migration import converters
from migration.core.specs import CellSpec

tf, v1, keras = legacy_rnn.tf, legacy_rnn.v1, modern_rnn.keras

BATCH, STEPS, DEPTH = 3, 5, 4

# Grappler rewrites cost more than these tiny graphs take to run; turn them off (results are unchanged).
FAST_SESSION = v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
FAST_SESSION.graph_options.rewrite_options.disable_meta_optimizer = True
LENGTHS = np.array([5, 3, 1], np.int32)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    spec: CellSpec
    unroll: str  # manual | static | dynamic
    bidirectional: bool = False
    layers: int = 1
    ragged: bool = False
    time_major: bool = False

    @property
    def specs(self) -> list[CellSpec]:
        return [self.spec] * self.layers

    @property
    def directions(self) -> tuple[str, ...]:
        return ("fw", "bw") if self.bidirectional else ("",)

    def input_size(self, layer: int) -> int:
        return DEPTH if layer == 0 else self.spec.output_size

    def cell_prefix(self, direction: str, layer: int) -> str:
        """The TF1 variable prefix of one cell (pins the scope naming of facts §2)."""
        if self.spec.kind == "handwritten":
            return "rnn_cell/"
        base = f"bidirectional_rnn/{direction}" if direction else "rnn"
        if self.layers > 1:
            base += f"/multi_rnn_cell/cell_{layer}"
        return f"{base}/{self.spec.tf1_scope}/"

    def __str__(self) -> str:
        return self.name


def random_inputs(seed: int) -> np.ndarray:
    """Batch-major inputs [B, T, D]; time-major cases transpose them where they feed the graph."""
    return (np.random.default_rng(seed).standard_normal((BATCH, STEPS, DEPTH)) * 0.8).astype(np.float32)


def random_tf1_weights(spec: CellSpec, input_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded, asymmetric, non-saturating weights with non-zero biases, in TF1 layout."""
    out = {}
    for name, shape in converters.tf1_shapes(spec, input_size).items():
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) == 2 else 0.5
        out[name] = (rng.uniform(-1.5, 1.5, shape) * scale).astype(np.float32)
    return out


def random_keras_weights(spec: CellSpec, input_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random Keras-layout weights: made in TF1 layout then converted, so shapes are right by construction."""
    return converters.cell_to_keras(spec, random_tf1_weights(spec, input_size, rng), input_size)


# ------------------------------------------------------------------------------------------------------ TF1 side

@dataclasses.dataclass
class Tf1Result:
    outputs: np.ndarray
    states: list[np.ndarray]
    weights: dict[str, np.ndarray]  # full checkpoint name -> value
    grads: dict[str, np.ndarray]


def _tf1_cell(case: Case, direction: str):
    if case.spec.kind == "handwritten":
        return legacy_rnn.handwritten_rnn_cell(case.spec.units, DEPTH)
    cells = [legacy_rnn.cell_from_spec(s) for s in case.specs]
    return cells[0] if case.layers == 1 else legacy_rnn.multi_rnn_cell(cells)


def _tf1_forward(case: Case, x, lengths):
    if case.bidirectional:
        fw, bw = _tf1_cell(case, "fw"), _tf1_cell(case, "bw")
        if case.unroll == "static":
            outs, s_fw, s_bw = legacy_rnn.static_bidirectional_rnn(fw, bw, x, sequence_length=lengths)
            return tf.stack(outs, 1), legacy_rnn.flatten_state(s_fw) + legacy_rnn.flatten_state(s_bw)
        (o_fw, o_bw), (s_fw, s_bw) = legacy_rnn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=lengths,
                                                                          time_major=case.time_major)
        out = tf.concat([o_fw, o_bw], -1)
        out = tf.transpose(out, [1, 0, 2]) if case.time_major else out
        return out, legacy_rnn.flatten_state(s_fw) + legacy_rnn.flatten_state(s_bw)
    cell = _tf1_cell(case, "")
    if case.unroll == "manual":
        out, state = legacy_rnn.manual_rnn(cell, x)
    elif case.unroll == "static":
        outs, state = legacy_rnn.static_rnn(cell, x, sequence_length=lengths)
        out = tf.stack(outs, 1)
    else:
        out, state = legacy_rnn.dynamic_rnn(cell, x, sequence_length=lengths, time_major=case.time_major)
        out = tf.transpose(out, [1, 0, 2]) if case.time_major else out
    return out, legacy_rnn.flatten_state(state)


def _values_for_every_variable(case: Case, variables, set_weights, rng) -> list[tuple[object, np.ndarray]]:
    """(variable, value) for every TF1 variable of the case: ``set_weights(direction, layer)`` per cell, or random TF1
    values; every variable must get exactly one value."""
    pairs = []
    for direction in case.directions:
        for layer in range(case.layers):
            prefix = case.cell_prefix(direction, layer)
            values = (set_weights(direction, layer) if set_weights else
                      random_tf1_weights(case.spec, case.input_size(layer), rng))
            for name, value in values.items():
                var = [v for v in variables if v.op.name == prefix + name]
                assert len(var) == 1, f"no TF1 variable {prefix + name}; graph has {[v.op.name for v in variables]}"
                pairs.append((var[0], value))
    assert len(pairs) == len(variables), f"unassigned variables: {[v.op.name for v in variables]}"
    return pairs


@dataclasses.dataclass
class Tf1Graph:
    """A case's TF1 graph and its open session, kept by :func:`run_tf1` (``keep``) so that the table's other
    direction runs the same graph with other variable values and inputs (:func:`rerun_tf1`) instead of building it
    again: building the graph costs far more than running it."""
    case: Case
    graph: object
    sess: object
    x: object
    fetches: list  # [out, states, grads, variables]: one sess.run signature, so its executor is built once
    variables: list
    values: list  # one placeholder per variable, fed by ``assign``
    assign: object  # every variable assigned from ``values`` (one sess.run signature, built once)

    def load(self, pairs) -> None:
        """Assign every variable its value (``pairs`` from :func:`_values_for_every_variable`) in one ``sess.run``."""
        value_of = {id(var): value for var, value in pairs}
        self.sess.run(self.assign, {ph: value_of[id(var)] for var, ph in zip(self.variables, self.values)})

    def run(self, x_np: np.ndarray) -> tuple:
        feed_x = np.transpose(x_np, (1, 0, 2)) if self.case.time_major else x_np
        return tuple(self.sess.run(self.fetches, {self.x: feed_x}))


def run_tf1(case: Case, x_np: np.ndarray, loss_weights, set_weights: Optional[Callable[[str], dict]] = None,
            seed: int = 0, via_checkpoint: bool = True, with_grads: bool = True,
            keep: Optional[dict] = None) -> Tf1Result:
    """Build the case as a TF1 graph; ``set_weights(prefix)`` gives the arrays of one cell (by name under the cell
    scope), or random TF1 values are drawn. With ``via_checkpoint`` the values are read back from a real Saver
    checkpoint (what users hold) rather than from the session. With ``keep`` (a dict), the graph and its open
    session are stored in ``keep[case.name]`` as a :class:`Tf1Graph` for :func:`rerun_tf1`.

    Every op (the assignments, the Saver's) is made before the session first runs: a session extended after a run
    sends the graph's whole function library (every while/cond body) again, which cost more than the rest of the
    run on the larger rows; and each distinct ``sess.run`` signature builds an executor, so there are few of them."""
    rng = np.random.default_rng(seed)
    with legacy_rnn.new_graph(seed) as graph:
        feed_x = np.transpose(x_np, (1, 0, 2)) if case.time_major else x_np
        x = legacy_rnn.placeholder(tf.float32, feed_x.shape, name="x")
        lengths = tf.constant(LENGTHS) if case.ragged else None
        out, states = _tf1_forward(case, x, lengths)
        loss = tf.reduce_sum(out * loss_weights[0]) + sum(
            tf.reduce_sum(s * w) for s, w in zip(states, loss_weights[1:]))
        variables = v1.trainable_variables()
        grads = tf.gradients(loss, variables) if with_grads else []
        values = [v1.placeholder(v.dtype.base_dtype, v.shape) for v in variables]
        assign = tf.group([v.assign(ph) for v, ph in zip(variables, values)])
        others = [v for v in v1.global_variables() + v1.local_variables() if id(v) not in {id(t) for t in variables}]
        init = v1.variables_initializer(others) if others else None
        saver = v1.train.Saver() if via_checkpoint else None
        kept = Tf1Graph(case, graph, v1.Session(graph=graph, config=FAST_SESSION), x, [out, states, grads, variables],
                        variables, values, assign)
        try:
            if init is not None:
                kept.sess.run(init)
            kept.load(_values_for_every_variable(case, variables, set_weights, rng))
            out_v, states_v, grads_v, weights_v = kept.run(x_np)
            if via_checkpoint:  # the .meta graph is not written: nothing here reads it
                with tempfile.TemporaryDirectory() as tmp:
                    prefix = saver.save(kept.sess, os.path.join(tmp, "model.ckpt"), write_meta_graph=False)
                    reader = tf.train.load_checkpoint(prefix)
                    weights = {v.op.name: reader.get_tensor(v.op.name) for v in variables}
            else:
                weights = dict(zip([v.op.name for v in variables], weights_v))
        except BaseException:
            kept.sess.close()
            raise
        if keep is None:
            kept.sess.close()
        else:
            keep[case.name] = kept
    return Tf1Result(out_v, list(states_v), weights, dict(zip([v.op.name for v in variables], grads_v)) if with_grads else {})


def rerun_tf1(kept: Tf1Graph, x_np: np.ndarray, set_weights: Callable) -> Tf1Result:
    """``run_tf1(kept.case, x_np, _, set_weights, via_checkpoint=False, with_grads=False)`` on the graph
    :func:`run_tf1` kept: every variable is loaded with the value ``set_weights`` gives (no op is added), the forward
    pass runs on ``x_np`` (the gradients, computed by the same run, are not returned); the session is closed
    afterwards."""
    try:
        kept.load(_values_for_every_variable(kept.case, kept.variables, set_weights, None))
        out_v, states_v, _, weights_v = kept.run(x_np)
    finally:
        kept.sess.close()
    return Tf1Result(out_v, list(states_v), dict(zip([v.op.name for v in kept.variables], weights_v)), {})


# ---------------------------------------------------------------------------------------------------- Keras side

@dataclasses.dataclass
class KerasResult:
    outputs: np.ndarray
    states: list[np.ndarray]
    cells: dict  # (direction, layer) -> Keras cell
    grads: dict  # (direction, layer) -> list of arrays in get_weights order


def _keras_cells(case: Case):
    return [modern_rnn.cell_from_spec(s, input_size=DEPTH) for s in case.specs]


def _keras_forward(case: Case, x, cells_by_dir):
    """The case's Keras forward pass (the cells already built: :func:`_build_cell`)."""
    lengths = tf.constant(LENGTHS) if case.ragged else None

    def top(cells):
        return cells[0] if case.layers == 1 else cells_by_dir.setdefault(("stack", id(cells)), modern_rnn.multi_rnn_cell(cells))

    if case.bidirectional:
        fw, bw = top(cells_by_dir["fw"]), top(cells_by_dir["bw"])
        if case.unroll == "static":
            outs, s_fw, s_bw = modern_rnn.static_bidirectional_rnn(fw, bw, x, sequence_length=lengths)
            return tf.stack(outs, 1), modern_rnn.flatten_state(s_fw, fw) + modern_rnn.flatten_state(s_bw, bw)
        xin = tf.transpose(x, [1, 0, 2]) if case.time_major else x
        (o_fw, o_bw), (s_fw, s_bw) = modern_rnn.bidirectional_dynamic_rnn(fw, bw, xin, sequence_length=lengths,
                                                                          time_major=case.time_major)
        out = tf.concat([o_fw, o_bw], -1)
        out = tf.transpose(out, [1, 0, 2]) if case.time_major else out
        return out, modern_rnn.flatten_state(s_fw, fw) + modern_rnn.flatten_state(s_bw, bw)
    cell = top(cells_by_dir[""])
    if case.unroll == "manual":
        out, state = modern_rnn.manual_rnn(cell, x)
    elif case.unroll == "static":
        outs, state = modern_rnn.static_rnn(cell, x, sequence_length=lengths)
        out = tf.stack(outs, 1)
    else:
        xin = tf.transpose(x, [1, 0, 2]) if case.time_major else x
        out, state = modern_rnn.dynamic_rnn(cell, xin, sequence_length=lengths, time_major=case.time_major)
        out = tf.transpose(out, [1, 0, 2]) if case.time_major else out
    return out, modern_rnn.flatten_state(state, cell)


def _build_cell(cell, input_size: int) -> None:
    """Create the cell's weights for inputs of ``input_size`` (the shape a layer gives ``build``), without running the
    RNN layer: a one-step forward pass built the same weights at the cost of a whole layer call. A cell built twice
    would hold new weights the later ``set_weights`` misses, and the comparisons would fail, so this cannot hide a
    difference."""
    cell.build(tf.TensorShape([None, input_size]))
    assert cell.built and cell.weights, cell


def run_keras(case: Case, x_np: np.ndarray, loss_weights, set_weights: Optional[Callable] = None,
              seed: int = 0, with_grads: bool = True) -> KerasResult:
    """Build the case with Keras cells; ``set_weights(direction, layer)`` gives a ``get_weights()`` list per cell,
    or random Keras weights are drawn."""
    rng = np.random.default_rng(seed)
    cells_by_dir = {d: _keras_cells(case) for d in case.directions}
    x = tf.constant(x_np)
    for d in case.directions:
        for layer, cell in enumerate(cells_by_dir[d]):
            _build_cell(cell, case.input_size(layer))
            values = (set_weights(d, layer) if set_weights else
                      random_keras_weights(case.spec, case.input_size(layer), rng))
            cell.set_weights(values)
    with tf.GradientTape() as tape:
        out, states = _keras_forward(case, x, cells_by_dir)
        loss = tf.reduce_sum(out * loss_weights[0]) + sum(
            tf.reduce_sum(s * w) for s, w in zip(states, loss_weights[1:]))
    cells = {(d, k): c for d in case.directions for k, c in enumerate(cells_by_dir[d])}
    grads = tape.gradient(loss, {key: c.trainable_weights for key, c in cells.items()}) if with_grads else {}
    return KerasResult(out.numpy(), [s.numpy() for s in states], cells,
                       {key: [g.numpy() for g in gs] for key, gs in grads.items()})


def loss_weights(case: Case, seed: int = 1) -> list[np.ndarray]:
    """Fixed random weights for the scalar loss sum(out * R0) + sum_k sum(state_k * R_k)."""
    rng = np.random.default_rng(seed)
    width = case.spec.output_size * len(case.directions)
    shapes = [(BATCH, STEPS, width)]
    for _ in case.directions:
        for _ in range(case.layers):
            shapes += [(BATCH, n) for n in case.spec.tf1_state_sizes]
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]
