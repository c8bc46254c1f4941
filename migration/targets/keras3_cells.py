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
        self.output_size = self.output_width()

    def state_sizes(self) -> tuple[int, ...]:
        return (self.units,)

    def output_width(self) -> int:
        """The step output's size (the first state's, unless the cell says otherwise)."""
        return self.state_size[0]

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


@keras.saving.register_keras_serializable(package=PACKAGE)
class TimeFreqLSTMCell(StepCell):
    """``tf.contrib.rnn.TimeFreqLSTMCell`` (no peepholes, no clip: what the family row converts): one LSTM (``kernel
    [feature_size + 2U, 4U]``, blocks i, j, f, o; ``bias`` with forget_bias folded) over the ``F`` frequency windows
    ``x[:, k skip : k skip + feature_size]``, each reading ``[x_k, m_prev_k, m_prev_freq]`` (the previous window's m;
    zeros for the first). Output ``concat(m_k)``, ONE state ``concat(c_0, m_0, ..)`` (TF1's layout). Without
    ``feature_size`` one window over the whole input (F = 1: the converted layout)."""

    SPEC_OPTIONS = ("feature_size", "frequency_skip", "input_size")

    def windows(self) -> int:
        size, depth = self.options.get("feature_size"), self.options.get("input_size")
        if not size or not depth:
            return 1
        return int((depth - size) / int(self.options.get("frequency_skip") or 1)) + 1

    def state_sizes(self):
        return (2 * self.units * self.windows(),)

    def output_width(self):
        return self.units * self.windows()

    def weight_shapes(self, depth):
        size, u = self.options.get("feature_size") or depth, self.units
        if self.options.get("input_size") not in (None, 0, depth):
            raise ValueError(f"TimeFreqLSTMCell was made for inputs of size {self.options['input_size']}; got {depth}.")
        return [("kernel", (size + 2 * u, 4 * u)), ("bias", (4 * u,))]

    def step(self, x, states):
        (state,) = states
        u, skip = self.units, int(self.options.get("frequency_skip") or 1)
        size = self.w["kernel"].shape[0] - 2 * u
        m_freq = ops.zeros_like(state[:, :u])
        outputs, new_state = [], []
        for k in range(self.windows()):
            c_prev, m_prev = state[:, 2 * k * u:(2 * k + 1) * u], state[:, (2 * k + 1) * u:(2 * k + 2) * u]
            z = ops.matmul(ops.concatenate([x[:, k * skip:k * skip + size], m_prev, m_freq], axis=-1),
                           self.w["kernel"]) + self.w["bias"]
            i, j, f, o = _split(z, 4)
            c = ops.sigmoid(f) * c_prev + ops.sigmoid(i) * ops.tanh(j)
            m_freq = ops.sigmoid(o) * ops.tanh(c)
            outputs.append(m_freq)
            new_state += [c, m_freq]
        return ops.concatenate(outputs, axis=-1), [ops.concatenate(new_state, axis=-1)]


def frequency_starts(depth: int, size: int, skip: int, blocks, starts=None, ends=None) -> list[list[int]]:
    """The first input column of every frequency slice, per block (TF 1.15's ``_make_tf_features``; its check)."""
    spans = list(zip(starts, ends)) if starts else [(0, depth)]
    if len(spans) != len(blocks):
        raise ValueError(f"Received {len(blocks)} frequency blocks for the spans {spans}.")
    out = []
    for (start, end), n in zip(spans, blocks):
        count = int((end - start - size) / skip) + 1
        if count != int(n):
            raise ValueError(f"Invalid num_frequency_blocks, requires {n} but gets {count}, please check the input "
                             f"size ({depth}) and filter config are correct.")
        out.append([start + k * skip for k in range(count)])
    return out


@keras.saving.register_keras_serializable(package=PACKAGE)
class GridLSTMCell(StepCell):
    """``tf.contrib.rnn.GridLSTMCell`` (``state_is_tuple=True``), the Keras 2 twin's arrays (``w_f_<b>``, ``b_f_<b>``
    [, ``w_t_<b>``, ``b_t_<b>``] [, peepholes ``w_{f,i,o}_diag_{freq,time}{f,t}_<b>``] per block; forget_bias folded):
    per step and block, the slices ``x_k`` (``feature_size`` columns, ``frequency_skip`` apart) in order; with ``v =
    [x_k, m_t_k, m_f]``, ``z^f = v W_f + b_f`` and ``z^t = v W_t + b_t`` (shared: ``z^f``), split i, j, f, o (coupled:
    i, j, o; ``f = 1 - i``); ``c_f' = s(f) c_f + s(i) tanh(j)``, ``c_t_k' = s(f) c_t_k + s(i) tanh(j)`` (each from its
    own z, peepholes on ``c_f``, ``c_t_k``; clipped), ``m = s(o [+ peepholes on the new c's]) tanh(c)``. ``c_f, m_f``
    start at zero per block and step. Output ``[m_t_k, m_f_k]`` per slice, states ``c_t_k, m_t_k`` per slice (TF1's
    tuple order)."""

    SPEC_OPTIONS = ("feature_size", "frequency_skip", "num_frequency_blocks", "start_freqindex_list",
                    "end_freqindex_list", "share_time_frequency_weights", "couple_input_forget_gates", "use_peepholes",
                    "cell_clip")
    DIRECTIONS: tuple[str, ...] = ("",)

    def slices(self) -> int:
        return sum(int(n) for n in self.options.get("num_frequency_blocks") or (1,)) * len(self.DIRECTIONS)

    def state_sizes(self):
        return (self.units,) * (2 * self.slices())

    def output_width(self):
        return 2 * self.units * self.slices()

    def weight_shapes(self, depth):
        o, u = self.options, self.units
        self.size = int(o.get("feature_size") or depth)
        self.starts = frequency_starts(depth, self.size, int(o.get("frequency_skip") or 1),
                                       o.get("num_frequency_blocks") or (1,), o.get("start_freqindex_list"),
                                       o.get("end_freqindex_list"))
        gates = 3 if o.get("couple_input_forget_gates") else 4
        lstms = ("freq",) if o.get("share_time_frequency_weights") else ("freq", "time")
        peeps = [f"w_{g}_diag_{lstm}{src}" for lstm in lstms for g in ("io" if gates == 3 else "fio") for src in "ft"]
        shapes = []
        for d in self.DIRECTIONS:
            for b in range(len(self.starts)):
                mats = [("w_f", (self.size + 2 * u, gates * u)), ("b_f", (gates * u,))]
                if len(lstms) == 2:
                    mats += [("w_t", (self.size + 2 * u, gates * u)), ("b_t", (gates * u,))]
                mats += [(p, (u,)) for p in peeps] if o.get("use_peepholes") else []
                shapes += [(f"{d}{m}_{b}", shape) for m, shape in mats]
        return shapes

    def _peep(self, pre, name: str, c_f, c_t):
        """``pre + w_..f * c_f + w_..t * c_t`` (``name``: ``<dir>w_<gate>_diag_<lstm>{src}_<block>`` with ``{src}``)."""
        if not self.options.get("use_peepholes"):
            return pre
        return pre + self.w[name.format(src="f")] * c_f + self.w[name.format(src="t")] * c_t

    def _cell(self, z, key: str, c_f, c_t, own):
        i = ops.sigmoid(self._peep(z[0], key.format(gate="i"), c_f, c_t))
        f = 1.0 - i if len(z) == 3 else ops.sigmoid(self._peep(z[2], key.format(gate="f"), c_f, c_t))
        c = f * own + i * ops.tanh(z[1])
        clip = self.options.get("cell_clip")
        return c if clip is None else ops.clip(c, -clip, clip)

    def _grid(self, slices, pairs, d: str, b: int):
        """One block of one direction: ``slices`` in processing order, ``pairs`` (c_t, m_t) per slice."""
        share = self.options.get("share_time_frequency_weights")
        gates = 3 if self.options.get("couple_input_forget_gates") else 4
        keys = {lstm: f"{d}w_{{gate}}_diag_{'freq' if share else lstm}{{{{src}}}}_{b}" for lstm in ("freq", "time")}
        c_f = m_f = ops.zeros_like(pairs[0][0])
        outputs, states = [], []
        for x, (c_t_prev, m_t_prev) in zip(slices, pairs):
            v = ops.concatenate([x, m_t_prev, m_f], axis=-1)
            z_f = _split(ops.matmul(v, self.w[f"{d}w_f_{b}"]) + self.w[f"{d}b_f_{b}"], gates)
            z_t = z_f if share else _split(ops.matmul(v, self.w[f"{d}w_t_{b}"]) + self.w[f"{d}b_t_{b}"], gates)
            new_c_f = self._cell(z_f, keys["freq"], c_f, c_t_prev, c_f)
            c_t = self._cell(z_t, keys["time"], c_f, c_t_prev, c_t_prev)
            m_f = ops.sigmoid(self._peep(z_f[-1], keys["freq"].format(gate="o"), new_c_f, c_t)) * ops.tanh(new_c_f)
            m_t = ops.sigmoid(self._peep(z_t[-1], keys["time"].format(gate="o"), new_c_f, c_t)) * ops.tanh(c_t)
            c_f = new_c_f
            outputs += [m_t, m_f]
            states += [c_t, m_t]
        return outputs, states

    def direction_input(self, x, d: str):
        """(input, column shift, slices reversed?) of a direction's grid."""
        return x, 0, False

    def step(self, x, states):
        outputs, new_states, pos = [], [], 0
        for d in self.DIRECTIONS:
            xd, shift, backward = self.direction_input(x, d)
            for b, starts in enumerate(self.starts):
                slices = [xd[:, s + shift:s + shift + self.size] for s in starts]
                pairs = [(states[pos + 2 * k], states[pos + 2 * k + 1]) for k in range(len(starts))]
                pos += 2 * len(starts)
                out, st = self._grid(slices[::-1] if backward else slices, pairs, d, b)
                outputs += out
                new_states += st
        return ops.concatenate(outputs, axis=-1), new_states


@keras.saving.register_keras_serializable(package=PACKAGE)
class BidirectionalGridLSTMCell(GridLSTMCell):
    """``tf.contrib.rnn.BidirectionalGridLSTMCell``: a forward grid (``fwd_`` arrays) and a backward one (``bwd_``)
    that reads the slices in reverse order, from the input shifted by ``backward_slice_offset`` columns (zeros
    outside); output and states forward then backward."""

    SPEC_OPTIONS = GridLSTMCell.SPEC_OPTIONS + ("backward_slice_offset",)
    DIRECTIONS = ("fwd_", "bwd_")

    def direction_input(self, x, d):
        offset = int(self.options.get("backward_slice_offset") or 0)
        if d == "fwd_" or not offset:
            return x, 0, d == "bwd_"
        return ops.pad(x, [[0, 0], [abs(offset), abs(offset)]]), offset + abs(offset), True


#: class name (a family row's ``custom_cell``) -> class
CELLS: dict[str, type] = {cls.__name__: cls for cls in (
    UGRNNCell, CoupledInputForgetGateLSTMCell, MinimalRNNCell, CFNCell, SRUCell, IntersectionRNNCell,
    LayerNormBasicLSTMCell, LayerNormLSTMCell, ProjectionLSTMCell, NASCell, GLSTMCell, PhasedLSTMCell,
    TimeFreqLSTMCell, GridLSTMCell, BidirectionalGridLSTMCell)}


def make_cell(name: str, units: int, activation: str, spec_options: dict) -> StepCell:
    """The cell ``name`` of :data:`CELLS` (``spec_options``: any CellSpec fields, the kind's own ``options`` among
    them, e.g. NASCell's ``use_bias``; the cell takes its own)."""
    cls = CELLS[name]
    flat = {**spec_options, **(spec_options.get("options") or {})}
    return cls(units, activation=activation, **{k: v for k, v in flat.items() if k in cls.SPEC_OPTIONS})
