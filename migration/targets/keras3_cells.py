"""Keras 3 custom cells of the TF1 families no standard Keras 3 layer computes (``convert --target keras3``).

Each class is one step of a TF 1.15 cell (the legacy cells of ``legacy_rnn`` and their Keras 2 twins in
``modern_rnn`` are the reference), written with ``keras.ops`` only, so it runs on every Keras 3 backend; the block
model wraps it in ``keras.layers.RNN``. Weights: the Keras 2 twin's ``get_weights()`` list as it is (the family
converter's output: forget_bias folded, gate blocks in the Keras 2 order), created in that order by :meth:`build`.

Loading a ``.keras3.keras`` file holding one of these cells needs them registered first (safe mode runs no code from
the file; the classes are looked up by their registered names ``rnn_migrate>Class``)::

    import migration.targets.keras3_cells  # noqa: F401  (registers rnn_migrate>UGRNNCell, ...)
    model = keras.saving.load_model("out/blocks/rnn.keras3.keras", safe_mode=True)

This module imports only ``keras`` (no TensorFlow, nothing of rnn-migrate): the JAX check's child process loads it
by its file path (:mod:`migration.targets.keras3_child`).

Notation: D input depth, U units; ``LN(a) = (a - mean(a)) / sqrt(var(a) + 1e-12)`` over the U units (contrib
``layers.layer_norm``: population variance, epsilon 1e-12).
"""
from __future__ import annotations

import keras
from keras import ops

PACKAGE = "rnn_migrate"
#: contrib ``layers.layer_norm``'s variance epsilon (TF 1.15)
LN_EPSILON = 1e-12


def layer_norm(x, gamma, beta):
    """``gamma * (x - mean) / sqrt(var + 1e-12) + beta`` over the last axis (population variance)."""
    mean = ops.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    var = ops.mean(ops.square(centred), axis=-1, keepdims=True)
    return centred / ops.sqrt(var + LN_EPSILON) * gamma + beta


class StepCell(keras.layers.Layer):
    """A cell for ``keras.layers.RNN``: ``units``, an ``activation`` name, the weights of :meth:`weight_shapes`
    (created in that order, so ``set_weights`` takes the Keras 2 twin's list), states of :meth:`state_sizes`
    (Keras order: ``[h, c]`` for the LSTMs)."""

    #: CellSpec fields the cell takes as constructor options (besides units and activation)
    SPEC_OPTIONS: tuple[str, ...] = ()
    #: weights created non-trainable (kept only so that the arrays round-trip)
    FROZEN: tuple[str, ...] = ()

    def __init__(self, units: int, activation: str = "tanh", **kwargs) -> None:
        options = {k: kwargs.pop(k) for k in self.SPEC_OPTIONS if k in kwargs}
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.options = options
        self.state_size = list(self.state_sizes())
        self.output_size = self.state_size[0]

    def state_sizes(self) -> tuple[int, ...]:
        return (self.units,)

    def weight_shapes(self, depth: int) -> list[tuple[str, tuple[int, ...]]]:
        raise NotImplementedError

    def build(self, input_shape) -> None:
        depth = int(input_shape[-1])
        self.w = {}
        for name, shape in self.weight_shapes(depth):
            self.w[name] = self.add_weight(name=name, shape=shape, initializer="zeros",
                                           trainable=name not in self.FROZEN)
        self.built = True

    def step(self, x, states):
        """(output, new states) of one step; ``states`` in Keras order."""
        raise NotImplementedError

    def call(self, inputs, states, training=None):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        output, new_states = self.step(inputs, states)
        return output, list(new_states)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=self.activation_name, **self.options)
        return config


def _split(z, n: int):
    return ops.split(z, n, axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class UGRNNCell(StepCell):
    """``tf.contrib.rnn.UGRNNCell``: ``g, c = split(x K + h R + b, 2)``; ``h' = s(g) h + (1 - s(g)) act(c)``."""

    def weight_shapes(self, depth):
        u = self.units
        return [("kernel", (depth, 2 * u)), ("recurrent_kernel", (u, 2 * u)), ("bias", (2 * u,))]

    def step(self, x, states):
        (h,) = states
        g, c = _split(ops.matmul(x, self.w["kernel"]) + ops.matmul(h, self.w["recurrent_kernel"]) + self.w["bias"], 2)
        g = ops.sigmoid(g)
        new_h = g * h + (1.0 - g) * self.activation(c)
        return new_h, [new_h]


@keras.saving.register_keras_serializable(package=PACKAGE)
class CoupledInputForgetGateLSTMCell(StepCell):
    """``tf.contrib.rnn.CoupledInputForgetGateLSTMCell`` (blocks j, f, o): ``f = s(f)``;
    ``c' = f c + (1 - f) act(j)``; ``h' = s(o) act(c')``. States ``[h, c]``."""

    def state_sizes(self):
        return (self.units, self.units)

    def weight_shapes(self, depth):
        u = self.units
        return [("kernel", (depth, 3 * u)), ("recurrent_kernel", (u, 3 * u)), ("bias", (3 * u,))]

    def step(self, x, states):
        h, c = states
        j, f, o = _split(ops.matmul(x, self.w["kernel"]) + ops.matmul(h, self.w["recurrent_kernel"]) + self.w["bias"], 3)
        f = ops.sigmoid(f)
        new_c = f * c + (1.0 - f) * self.activation(j)
        new_h = ops.sigmoid(o) * self.activation(new_c)
        return new_h, [new_h, new_c]


@keras.saving.register_keras_serializable(package=PACKAGE)
class MinimalRNNCell(StepCell):
    """``tf.contrib.rnn.MinimalRNNCell``: ``z = act(x K)``; ``u = s(z G + h R + b)``; ``h' = u h + (1 - u) z``."""

    def weight_shapes(self, depth):
        u = self.units
        return [("kernel", (depth, u)), ("gate_kernel", (u, u)), ("recurrent_kernel", (u, u)), ("bias", (u,))]

    def step(self, x, states):
        (h,) = states
        z = self.activation(ops.matmul(x, self.w["kernel"]))
        u = ops.sigmoid(ops.matmul(z, self.w["gate_kernel"]) + ops.matmul(h, self.w["recurrent_kernel"])
                        + self.w["bias"])
        new_h = u * h + (1.0 - u) * z
        return new_h, [new_h]


@keras.saving.register_keras_serializable(package=PACKAGE)
class CFNCell(StepCell):
    """``tf.contrib.rnn.CFNCell``: ``theta, eta = split(s(h R + (x K)[:2U] + b))``;
    ``h' = theta act(h) + (1 - eta) act((x K)[2U:])``."""

    def weight_shapes(self, depth):
        u = self.units
        return [("kernel", (depth, 3 * u)), ("recurrent_kernel", (u, 2 * u)), ("bias", (2 * u,))]

    def step(self, x, states):
        (h,) = states
        u = self.units
        xk = ops.matmul(x, self.w["kernel"])
        theta, eta = _split(ops.sigmoid(ops.matmul(h, self.w["recurrent_kernel"]) + xk[:, :2 * u] + self.w["bias"]), 2)
        new_h = theta * self.activation(h) + (1.0 - eta) * self.activation(xk[:, 2 * u:])
        return new_h, [new_h]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SRUCell(StepCell):
    """``tf.contrib.rnn.SRUCell``: ``x_bar, f, r, x_tx = split(x K, 4)``; ``f, r = s([f, r] + b)``;
    ``c' = f c + (1 - f) x_bar``; output ``h = r act(c') + (1 - r) x_tx``, state ``[c']``."""

    def weight_shapes(self, depth):
        u = self.units
        return [("kernel", (depth, 4 * u)), ("bias", (2 * u,))]

    def step(self, x, states):
        (c,) = states
        x_bar, f_in, r_in, x_tx = _split(ops.matmul(x, self.w["kernel"]), 4)
        f, r = _split(ops.sigmoid(ops.concatenate([f_in, r_in], axis=-1) + self.w["bias"]), 2)
        new_c = f * c + (1.0 - f) * x_bar
        h = r * self.activation(new_c) + (1.0 - r) * x_tx
        return h, [new_c]


@keras.saving.register_keras_serializable(package=PACKAGE)
class IntersectionRNNCell(StepCell):
    """``tf.contrib.rnn.IntersectionRNNCell``: ``x = in P + p`` when D != U (else the input);
    ``gh, h_, gy, y_ = split(x K + h R + b, 4)``; state ``h' = s(gh) h + (1 - s(gh)) tanh(h_)``, output
    ``y = s(gy) x + (1 - s(gy)) relu(y_)`` (TF 1.15's y_activation)."""

    def weight_shapes(self, depth):
        u = self.units
        self.projects = depth != u
        return [("in_projection_kernel", (depth, u)), ("in_projection_bias", (u,)), ("kernel", (u, 4 * u)),
                ("recurrent_kernel", (u, 4 * u)), ("bias", (4 * u,))]

    def step(self, x, states):
        (h,) = states
        if self.projects:
            x = ops.matmul(x, self.w["in_projection_kernel"]) + self.w["in_projection_bias"]
        gh, h_, gy, y_ = _split(ops.matmul(x, self.w["kernel"]) + ops.matmul(h, self.w["recurrent_kernel"])
                                + self.w["bias"], 4)
        gh, gy = ops.sigmoid(gh), ops.sigmoid(gy)
        new_h = gh * h + (1.0 - gh) * ops.tanh(h_)
        y = gy * x + (1.0 - gy) * ops.relu(y_)
        return y, [new_h]


@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerNormBasicLSTMCell(StepCell):
    """``tf.contrib.rnn.LayerNormBasicLSTMCell`` (blocks i, f, c, o; no bias): ``g_k = gamma_k LN(k) + beta_k``;
    ``c' = c s(g_f) + s(g_i) act(g_c)``; ``c' = gamma_s LN(c') + beta_s``; ``h' = act(c') s(g_o)``. States
    ``[h, c]``."""

    def state_sizes(self):
        return (self.units, self.units)

    def weight_shapes(self, depth):
        u = self.units
        return [("kernel", (depth, 4 * u)), ("recurrent_kernel", (u, 4 * u)), ("gamma", (4 * u,)), ("beta", (4 * u,)),
                ("state_gamma", (u,)), ("state_beta", (u,))]

    def step(self, x, states):
        h, c = states
        z = ops.matmul(x, self.w["kernel"]) + ops.matmul(h, self.w["recurrent_kernel"])
        blocks = zip(_split(z, 4), _split(self.w["gamma"], 4), _split(self.w["beta"], 4))
        i, f, c_hat, o = (layer_norm(a, g, b) for a, g, b in blocks)
        new_c = c * ops.sigmoid(f) + ops.sigmoid(i) * self.activation(c_hat)
        new_c = layer_norm(new_c, self.w["state_gamma"], self.w["state_beta"])
        new_h = self.activation(new_c) * ops.sigmoid(o)
        return new_h, [new_h, new_c]


@keras.saving.register_keras_serializable(package=PACKAGE)
class LayerNormLSTMCell(LayerNormBasicLSTMCell):
    """``tf.contrib.rnn.LayerNormLSTMCell(layer_norm=True)``: LayerNormBasicLSTMCell's step; the bias TF 1.15
    creates and never reads is kept as the non-trainable ``unused_bias`` (so the arrays round-trip)."""

    FROZEN = ("unused_bias",)

    def weight_shapes(self, depth):
        return super().weight_shapes(depth) + [("unused_bias", (4 * self.units,))]


@keras.saving.register_keras_serializable(package=PACKAGE)
class ProjectionLSTMCell(StepCell):
    """``LSTMCell`` / ``LSTMBlockCell`` with peepholes, a projection and clips (Keras gates i, f, c, o; forget_bias
    folded): ``c' = s(f + p_f c) c + s(i + p_i c) act(j)``, ``c' = clip(c', +-cell_clip)``,
    ``m = s(o + p_o c') act(c')``, ``m = clip(m P, +-proj_clip)``. States ``[m, c]``."""

    SPEC_OPTIONS = ("use_peepholes", "num_proj", "cell_clip", "proj_clip")

    def state_sizes(self):
        return (self.options.get("num_proj") or self.units, self.units)

    def weight_shapes(self, depth):
        u, r = self.units, self.state_sizes()[0]
        shapes = [("kernel", (depth, 4 * u)), ("recurrent_kernel", (r, 4 * u)), ("bias", (4 * u,))]
        if self.options.get("use_peepholes"):
            shapes += [("w_i_diag", (u,)), ("w_f_diag", (u,)), ("w_o_diag", (u,))]
        if self.options.get("num_proj"):
            shapes.append(("projection_kernel", (u, self.options["num_proj"])))
        return shapes

    def step(self, x, states):
        m, c = states
        peep, cell_clip, proj_clip = (self.options.get(k) for k in ("use_peepholes", "cell_clip", "proj_clip"))
        i, f, j, o = _split(ops.matmul(x, self.w["kernel"]) + ops.matmul(m, self.w["recurrent_kernel"])
                            + self.w["bias"], 4)
        if peep:
            i = i + self.w["w_i_diag"] * c
            f = f + self.w["w_f_diag"] * c
        new_c = ops.sigmoid(f) * c + ops.sigmoid(i) * self.activation(j)
        if cell_clip:
            new_c = ops.clip(new_c, -cell_clip, cell_clip)
        if peep:
            o = o + self.w["w_o_diag"] * new_c
        new_m = ops.sigmoid(o) * self.activation(new_c)
        if self.options.get("num_proj"):
            new_m = ops.matmul(new_m, self.w["projection_kernel"])
            if proj_clip:
                new_m = ops.clip(new_m, -proj_clip, proj_clip)
        return new_m, [new_m, new_c]


@keras.saving.register_keras_serializable(package=PACKAGE)
class NASCell(StepCell):
    """``tf.contrib.rnn.NASCell``: ``x_0..x_7 = split(x K, 8)``, ``m_0..m_7 = split(m R [+ b], 8)``;
    ``c' = tanh(tanh(s(x0 + m0) relu(x1 + m1)) + c) tanh(s(x2 + m2) + relu(x3 m3))``;
    ``m' = tanh(c' tanh(tanh(tanh(x4 + m4) s(x5 + m5)) + s(tanh(x6 + m6) + s(x7 + m7))))`` [``m' P``]. States
    ``[m, c]``; no activation option (TF 1.15's tree is fixed)."""

    SPEC_OPTIONS = ("num_proj", "use_bias")

    def state_sizes(self):
        return (self.options.get("num_proj") or self.units, self.units)

    def weight_shapes(self, depth):
        u, r = self.units, self.state_sizes()[0]
        shapes = [("kernel", (depth, 8 * u)), ("recurrent_kernel", (r, 8 * u))]
        if self.options.get("use_bias"):
            shapes.append(("bias", (8 * u,)))
        if self.options.get("num_proj"):
            shapes.append(("projection_weights", (u, self.options["num_proj"])))
        return shapes

    def step(self, x, states):
        m_prev, c_prev = states
        recurrent = ops.matmul(m_prev, self.w["recurrent_kernel"])
        if self.options.get("use_bias"):
            recurrent = recurrent + self.w["bias"]
        xs, ms = _split(ops.matmul(x, self.w["kernel"]), 8), _split(recurrent, 8)
        sig, relu, tanh = ops.sigmoid, ops.relu, ops.tanh
        first = [sig(xs[0] + ms[0]), relu(xs[1] + ms[1]), sig(xs[2] + ms[2]), relu(xs[3] * ms[3]),
                 tanh(xs[4] + ms[4]), sig(xs[5] + ms[5]), tanh(xs[6] + ms[6]), sig(xs[7] + ms[7])]
        new_c = tanh(tanh(first[0] * first[1]) + c_prev) * tanh(first[2] + first[3])
        new_m = tanh(new_c * tanh(tanh(first[4] * first[5]) + sig(first[6] + first[7])))
        if self.options.get("num_proj"):
            new_m = ops.matmul(new_m, self.w["projection_weights"])
        return new_m, [new_m, new_c]


@keras.saving.register_keras_serializable(package=PACKAGE)
class GLSTMCell(StepCell):
    """``tf.contrib.rnn.GLSTMCell`` with G groups (Keras 2 arrays: ``kernel [D, 4U/G]`` and ``recurrent_kernel
    [R, 4U/G]`` stacking the groups' row blocks, ``bias [4U]`` in TF1's gate order i, j, f, o with forget_bias
    folded): group g computes ``x_g K_g + m_g R_g`` on its slices and splits it into i, j, f, o; each gate is the
    groups' blocks concatenated plus its bias; ``c' = s(f) c + s(i) tanh(j)`` (tanh fixed), ``m' = s(o) act(c')``
    [``m' P``]. States ``[m, c]``."""

    SPEC_OPTIONS = ("num_proj", "number_of_groups")

    def state_sizes(self):
        return (self.options.get("num_proj") or self.units, self.units)

    def weight_shapes(self, depth):
        u, r, groups = self.units, self.state_sizes()[0], int(self.options.get("number_of_groups") or 1)
        shapes = [("kernel", (depth, 4 * u // groups)), ("recurrent_kernel", (r, 4 * u // groups)), ("bias", (4 * u,))]
        if self.options.get("num_proj"):
            shapes.append(("projection_kernel", (u, self.options["num_proj"])))
        return shapes

    def step(self, x, states):
        m_prev, c_prev = states
        groups = int(self.options.get("number_of_groups") or 1)
        parts = zip(_split(x, groups), _split(m_prev, groups), ops.split(self.w["kernel"], groups, axis=0),
                    ops.split(self.w["recurrent_kernel"], groups, axis=0))
        blocks = [_split(ops.matmul(xg, kg) + ops.matmul(mg, rg), 4) for xg, mg, kg, rg in parts]
        z = ops.concatenate([ops.concatenate([b[gate] for b in blocks], axis=-1) for gate in range(4)], axis=-1)
        i, j, f, o = _split(z + self.w["bias"], 4)
        new_c = ops.sigmoid(f) * c_prev + ops.sigmoid(i) * ops.tanh(j)
        new_m = ops.sigmoid(o) * self.activation(new_c)
        if self.options.get("num_proj"):
            new_m = ops.matmul(new_m, self.w["projection_kernel"])
        return new_m, [new_m, new_c]


@keras.saving.register_keras_serializable(package=PACKAGE)
class PhasedLSTMCell(StepCell):
    """``tf.contrib.rnn.PhasedLSTMCell`` (no peepholes) on ``[time, x]`` inputs (time first, as the Keras 2 twin):
    ``i, f = s([x, h] K_m + b_m)``, ``j = tanh([x, h] K_n + b_n)``, ``c1 = f c + i j``, ``h1 = tanh(c1) s([x, h] K_o +
    b_o)``; the time gate ``r = floormod(time - phase, period) / period``, ``k = 2r / ratio_on`` below half the open
    ratio, ``2 - 2r / ratio_on`` below it, ``leak * r`` after; ``c' = k c1 + (1 - k) c``, ``h' = k h1 + (1 - k) h``.
    States ``[h, c]``; ``leak`` TF 1.15's default (the family row's assumption, checked against the graph)."""

    SPEC_OPTIONS = ("leak",)

    def state_sizes(self):
        return (self.units, self.units)

    def weight_shapes(self, depth):
        u, rows = self.units, depth - 1 + self.units
        return [("mask_gates_kernel", (rows, 2 * u)), ("mask_gates_bias", (2 * u,)), ("new_input_kernel", (rows, u)),
                ("new_input_bias", (u,)), ("output_gate_kernel", (rows, u)), ("output_gate_bias", (u,)),
                ("period", (u,)), ("phase", (u,)), ("ratio_on", (u,))]

    def step(self, x, states):
        h, c = states
        w = self.w
        time, xh = x[:, :1], ops.concatenate([x[:, 1:], h], axis=-1)
        i, f = _split(ops.sigmoid(ops.matmul(xh, w["mask_gates_kernel"]) + w["mask_gates_bias"]), 2)
        c1 = c * f + i * ops.tanh(ops.matmul(xh, w["new_input_kernel"]) + w["new_input_bias"])
        h1 = ops.tanh(c1) * ops.sigmoid(ops.matmul(xh, w["output_gate_kernel"]) + w["output_gate_bias"])
        shifted = time - w["phase"]
        ratio = ((ops.mod(shifted, w["period"]) - shifted) + shifted) / w["period"]  # TF1's _mod, rounding included
        k_up = 2.0 * ratio / w["ratio_on"]
        k = ops.where(ratio < w["ratio_on"], 2.0 - k_up, float(self.options.get("leak", 0.001)) * ratio)
        k = ops.where(ratio < 0.5 * w["ratio_on"], k_up, k)
        new_c = k * c1 + (1.0 - k) * c
        new_h = k * h1 + (1.0 - k) * h
        return new_h, [new_h, new_c]


#: class name (a family row's ``custom_cell``) -> class
CELLS: dict[str, type] = {cls.__name__: cls for cls in (
    UGRNNCell, CoupledInputForgetGateLSTMCell, MinimalRNNCell, CFNCell, SRUCell, IntersectionRNNCell,
    LayerNormBasicLSTMCell, LayerNormLSTMCell, ProjectionLSTMCell, NASCell, GLSTMCell, PhasedLSTMCell)}


def make_cell(name: str, units: int, activation: str, spec_options: dict) -> StepCell:
    """The cell ``name`` of :data:`CELLS` (``spec_options``: any CellSpec fields, the kind's own ``options`` among
    them, e.g. NASCell's ``use_bias``; the cell takes its own)."""
    cls = CELLS[name]
    flat = {**spec_options, **(spec_options.get("options") or {})}
    return cls(units, activation=activation, **{k: v for k, v in flat.items() if k in cls.SPEC_OPTIONS})
