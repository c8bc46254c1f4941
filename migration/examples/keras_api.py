"""Seed 001 (Keras recurrent layer API): return_sequences / return_state / stacked / Bidirectional, both sides.

The seed feeds ``data = [[[0.1], [0.2], [0.3]]]`` to one-unit layers with all-ones ``kernel_initializer`` and
``recurrent_initializer`` (default biases) and prints the numbers in :data:`SEED_001`. Each Keras demonstration here
is repeated with its TF1 counterpart, built from the Keras weights with :func:`migration.converters.cell_to_tf1`:

* ``LSTM(1)`` with all-ones kernels and the default bias (``unit_forget_bias=True``, so ``b_f = 1``) is
  ``BasicLSTMCell(1, forget_bias=1.0)`` with an all-ones ``[D+U, 4U]`` kernel and a **zero** bias: the converter
  takes ``forget_bias`` back out of ``b_f``;
* the two-layer LSTM is ``MultiRNNCell([BasicLSTMCell(1), BasicLSTMCell(1)])``;
* ``Bidirectional(LSTM(1))`` is ``bidirectional_dynamic_rnn`` (Keras concatenates the forward and backward final
  outputs, TF1 returns the two final states);
* ``GRU(1)``: the Keras default is ``reset_after=True``, ``tanh(x W_h + r * (h U_h))``, while a TF1 ``GRUCell`` computes
  ``tanh(x W_h + (r * h) U_h)``. No TF1 weights equal the first **in general**; with one unit (``U_h`` is 1x1, so
  diagonal) and zero biases, the two formulas coincide, so the seed's GRU numbers *are* reproduced by a TF1 GRUCell
  with all-ones kernels and zero biases (and by ``GRU(reset_after=False)``). The ``gru_general`` section shows the
  general case with random weights (units 3): ``reset_after=False`` matches TF1 to float noise, the best
  ``reset_after=True`` mapping (recurrent bias 0) does not.
"""
from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

from migration.examples.common import (
    add_common_args, emit_json, plot_curves, quiet_tensorflow, result_line, scoped_op_determinism, write_scalars,
)
from migration.converters import cell_to_keras, cell_to_tf1
from migration.core.errors import MigrationError
from migration.core.specs import CellSpec

#: The numbers printed in seed 001 (/work/shared/seeds/001_*.txt), for data [0.1, 0.2, 0.3] and all-ones initialisers.
SEED_001: dict[str, list[float]] = {
    "lstm_last": [0.20281446],                                   # LSTM(1), return_sequences=False
    "lstm_sequence": [0.02744377, 0.09097716, 0.20281446],       # LSTM(1), return_sequences=True
    "lstm2_last": [0.09769259],                                  # LSTM(1, rs=True) -> LSTM(1)
    "lstm2_sequence": [0.00704829, 0.03230806, 0.09769259],      # LSTM(1, rs=True) -> LSTM(1, rs=True)
    "gru_sequence": [0.04734437, 0.12427121, 0.21689339],        # GRU(1), return_sequences=True, return_state=True
    "bilstm_last": [0.20281446, 0.20384209],                     # Bidirectional(LSTM(1))
}
DATA = np.array([0.1, 0.2, 0.3], np.float32).reshape(1, 3, 1)
TOLERANCE = 1e-6

GRU_NOTE = (
    "Keras' default GRU (reset_after=True) computes tanh(x W_h + b_in + r*(h U_h + b_rec)); a TF1 GRUCell computes "
    "tanh(x W_h + (r*h) U_h + b). No TF1 weights reproduce the first for a general U_h. Here U_h is 1x1 (so diagonal) "
    "and the biases are zero, the degenerate case where both formulas agree: the TF1 GRUCell with all-ones kernels "
    "and zero biases (the 'closest weights') gives the seed's numbers, as does GRU(reset_after=False). See "
    "gru_general for random 3-unit weights."
)


# --- Keras side (the seed's code, layers called eagerly) ---------------------------------------------------------------

def _ones() -> dict:
    from modern_rnn import keras

    return {"kernel_initializer": keras.initializers.Ones(), "recurrent_initializer": keras.initializers.Ones()}


def keras_numbers() -> tuple[dict[str, list[float]], dict[str, list]]:
    """Run the seed's Keras layers; returns (numbers, the layers' weights for the TF1 side)."""
    from modern_rnn import keras, tf

    x = tf.constant(DATA)
    out: dict[str, list[float]] = {}
    lstm = keras.layers.LSTM(1, return_sequences=True, return_state=True, **_ones())
    seq, h, c = lstm(x)
    out["lstm_sequence"] = seq.numpy().ravel().tolist()
    out["lstm_last"] = keras.layers.LSTM(1, **_ones())(x).numpy().ravel().tolist()
    out["lstm_state_h"], out["lstm_state_c"] = h.numpy().ravel().tolist(), c.numpy().ravel().tolist()

    first = keras.layers.LSTM(1, return_sequences=True, **_ones())
    second = keras.layers.LSTM(1, return_sequences=True, **_ones())
    seq2 = second(first(x))
    out["lstm2_sequence"] = seq2.numpy().ravel().tolist()
    last_layer = keras.layers.LSTM(1, **_ones())
    out["lstm2_last"] = last_layer(first(x)).numpy().ravel().tolist()

    gru = keras.layers.GRU(1, return_sequences=True, return_state=True, **_ones())
    gseq, gstate = gru(x)
    out["gru_sequence"], out["gru_state"] = gseq.numpy().ravel().tolist(), gstate.numpy().ravel().tolist()
    gru_ra = keras.layers.GRU(1, return_sequences=True, reset_after=False, **_ones())
    out["gru_reset_after_false_sequence"] = gru_ra(x).numpy().ravel().tolist()

    bi = keras.layers.Bidirectional(keras.layers.LSTM(1, **_ones()))
    out["bilstm_last"] = bi(x).numpy().ravel().tolist()
    weights = {"lstm": lstm.cell.get_weights(), "lstm2": [first.cell.get_weights(), second.cell.get_weights()],
               "gru": gru_ra.cell.get_weights(),
               "bilstm": [bi.forward_layer.cell.get_weights(), bi.backward_layer.cell.get_weights()]}
    return out, weights


# --- TF1 side -------------------------------------------------------------------------------------------------------

def _run_tf1(build, assignments_fn) -> list[np.ndarray]:
    """Build a graph with ``build() -> fetches``, load converted weights by variable name, run once."""
    import legacy_rnn

    with legacy_rnn.new_graph(0) as graph:
        fetches = build(legacy_rnn.tf.constant(DATA))
        with legacy_rnn.new_session(graph) as sess:
            legacy_rnn.initialize(sess)
            variables = {v.op.name: v for v in legacy_rnn.v1.global_variables()}
            assignments = assignments_fn()
            unknown = set(assignments) ^ set(variables)
            if unknown:
                raise MigrationError(f"TF1 variables and converted weights differ: {sorted(unknown)}")
            for name, value in assignments.items():
                variables[name].load(value, sess)
            return sess.run(fetches)


def _tf1_lstm(keras_weights: Sequence[np.ndarray], scope: str) -> dict[str, np.ndarray]:
    arrays = cell_to_tf1(CellSpec("basic_lstm", 1, forget_bias=1.0), keras_weights)
    return {f"{scope}/{name}": value for name, value in arrays.items()}


def tf1_numbers(weights: dict[str, list]) -> dict[str, list[float]]:
    """The TF1 counterparts, from the Keras weights converted with ``cell_to_tf1``."""
    import legacy_rnn

    out: dict[str, list[float]] = {}

    def lstm(x):
        outputs, state = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(1, forget_bias=1.0), x)
        return outputs, state.c, state.h

    seq, c, h = _run_tf1(lstm, lambda: _tf1_lstm(weights["lstm"], "rnn/basic_lstm_cell"))
    out["lstm_sequence"], out["lstm_last"] = seq.ravel().tolist(), h.ravel().tolist()
    out["lstm_state_h"], out["lstm_state_c"] = h.ravel().tolist(), c.ravel().tolist()

    def lstm2(x):
        cells = [legacy_rnn.basic_lstm_cell(1, forget_bias=1.0) for _ in range(2)]
        outputs, _ = legacy_rnn.dynamic_rnn(legacy_rnn.multi_rnn_cell(cells), x)
        return outputs

    seq2 = _run_tf1(lstm2, lambda: {**_tf1_lstm(weights["lstm2"][0], "rnn/multi_rnn_cell/cell_0/basic_lstm_cell"),
                                    **_tf1_lstm(weights["lstm2"][1], "rnn/multi_rnn_cell/cell_1/basic_lstm_cell")})
    out["lstm2_sequence"], out["lstm2_last"] = seq2.ravel().tolist(), seq2[:, -1].ravel().tolist()

    def gru(x):
        outputs, state = legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(1), x)
        return outputs, state

    gru_arrays = cell_to_tf1(CellSpec("gru", 1), weights["gru"])
    gseq, gstate = _run_tf1(gru, lambda: {f"rnn/gru_cell/{k}": v for k, v in gru_arrays.items()})
    out["gru_sequence"], out["gru_state"] = gseq.ravel().tolist(), gstate.ravel().tolist()

    def bilstm(x):
        cells = [legacy_rnn.basic_lstm_cell(1, forget_bias=1.0) for _ in range(2)]
        _, (state_fw, state_bw) = legacy_rnn.bidirectional_dynamic_rnn(cells[0], cells[1], x)
        return legacy_rnn.tf.concat([state_fw.h, state_bw.h], 1)

    bi = _run_tf1(bilstm, lambda: {**_tf1_lstm(weights["bilstm"][0], "bidirectional_rnn/fw/basic_lstm_cell"),
                                   **_tf1_lstm(weights["bilstm"][1], "bidirectional_rnn/bw/basic_lstm_cell")})
    out["bilstm_last"] = bi.ravel().tolist()
    return out


def gru_general(seed: int, units: int = 3) -> dict[str, float]:
    """Random TF1 GRUCell weights (biases included) vs Keras GRU(reset_after=False) and the best reset_after=True."""
    from modern_rnn import keras, tf

    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.5, (2, 5, 2)).astype(np.float32)
    spec = CellSpec("gru", units)
    tf1 = {name: rng.normal(0, 0.6, shape).astype(np.float32)
           for name, shape in {"gates/kernel": (2 + units, 2 * units), "gates/bias": (2 * units,),
                               "candidate/kernel": (2 + units, units), "candidate/bias": (units,)}.items()}

    def build(_):
        import legacy_rnn

        return legacy_rnn.dynamic_rnn(legacy_rnn.gru_cell(units), legacy_rnn.tf.constant(x))[0]

    ref = _run_tf1(build, lambda: {f"rnn/gru_cell/{k}": v for k, v in tf1.items()})
    kernel, recurrent, bias = cell_to_keras(spec, tf1, 2)
    before = keras.layers.GRU(units, return_sequences=True, reset_after=False)
    before.build((None, 5, 2))
    before.set_weights([kernel, recurrent, bias])
    after = keras.layers.GRU(units, return_sequences=True, reset_after=True)
    after.build((None, 5, 2))
    after.set_weights([kernel, recurrent, np.stack([bias, np.zeros_like(bias)])])
    xt = tf.constant(x)
    return {"units": units, "seed": seed,
            "reset_after_false_max_abs_diff": float(np.abs(before(xt).numpy() - ref).max()),
            "reset_after_true_max_abs_diff": float(np.abs(after(xt).numpy() - ref).max())}


# --- command line -----------------------------------------------------------------------------------------------------

def compare(keras_out: dict, tf1_out: dict) -> dict[str, float]:
    """Max |diff| against the seed's numbers for every number the seed published (both sides)."""
    diffs: dict[str, float] = {}
    for key, published in SEED_001.items():
        for side, values in (("keras", keras_out), ("tf1", tf1_out)):
            if key in values:
                diffs[f"{side}/{key}"] = float(np.abs(np.asarray(values[key]) - np.asarray(published)).max())
    return diffs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-migrate example keras_api",
        description="Seed 001: the Keras LSTM/GRU/Bidirectional numbers with all-ones initialisers, and their TF1 "
                    "counterparts (BasicLSTMCell, MultiRNNCell, GRUCell, bidirectional_dynamic_rnn).",
    )
    add_common_args(p, seed=0)
    return p


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.8f}" for v in values) + "]"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with scoped_op_determinism():
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    quiet_tensorflow(args.seed)
    keras_out, weights = keras_numbers()
    tf1_out = tf1_numbers(weights)
    general = gru_general(args.seed)
    diffs = compare(keras_out, tf1_out)
    rows = [("lstm_last", "LSTM(1)"), ("lstm_sequence", "LSTM(1, return_sequences=True)"),
            ("lstm_state_h", "LSTM(1, return_state=True): state_h"), ("lstm_state_c", "  state_c"),
            ("lstm2_last", "LSTM(1, rs=True) -> LSTM(1)"), ("lstm2_sequence", "LSTM(1, rs=True) -> LSTM(1, rs=True)"),
            ("gru_sequence", "GRU(1) (reset_after=True)"), ("gru_state", "  state"),
            ("gru_reset_after_false_sequence", "GRU(1, reset_after=False)"), ("bilstm_last", "Bidirectional(LSTM(1))")]
    for key, label in rows:
        line = f"{label:<40} keras {_fmt(keras_out[key])}"
        if key in tf1_out:
            line += f"   tf1 {_fmt(tf1_out[key])}"
        if key in SEED_001:
            line += f"   seed {_fmt(SEED_001[key])}"
        result_line(line, args)
    result_line("GRU: " + GRU_NOTE, args)
    result_line(f"GRU with random {general['units']}-unit weights: reset_after=False vs TF1 GRUCell "
        f"{general['reset_after_false_max_abs_diff']:.1e}; best reset_after=True {general['reset_after_true_max_abs_diff']:.3f}", args)
    worst = max(diffs.values())
    result_line(f"max |diff| to the seed's numbers: {worst:.2e} ({'OK' if worst <= TOLERANCE else 'MISMATCH'} at {TOLERANCE:g})", args)
    if args.plot:
        plot_curves(args.plot, {
            "LSTM (Keras 2)": keras_out["lstm_sequence"], "BasicLSTMCell (TF1)": tf1_out["lstm_sequence"],
            "2-layer LSTM (Keras 2)": keras_out["lstm2_sequence"], "MultiRNNCell (TF1)": tf1_out["lstm2_sequence"],
            "GRU (Keras 2)": keras_out["gru_sequence"], "GRUCell (TF1)": tf1_out["gru_sequence"],
        }, title="seed 001: outputs for [0.1, 0.2, 0.3], all-ones kernels", xlabel="time step", ylabel="output")
    for key in ("lstm_sequence", "lstm2_sequence", "gru_sequence"):
        write_scalars(args.logdir, "modern", f"keras_api/{key}", keras_out[key])
        write_scalars(args.logdir, "legacy", f"keras_api/{key}", tf1_out[key])
    if args.json:
        emit_json({"example": "keras_api", "keras": keras_out, "tf1": tf1_out, "seed_001": SEED_001,
                   "max_abs_diff": diffs, "tolerance": TOLERANCE, "gru_note": GRU_NOTE, "gru_general": general})
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
