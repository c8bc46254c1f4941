"""AutoGraph's rewrite of rnn-migrate's own cells and layers, on and off (migration/core/autograph_rules.py).

Fresh processes build, alternately with our ``DoNotConvert`` rules (the default) and with
``RNN_MIGRATE_AUTOGRAPH=1`` (TensorFlow's own rules alone, as before the rules existed), the graphs where Keras
hands our layers to AutoGraph:

* a TF1 graph: a two-layer ``legacy_rnn`` ``dynamic_rnn`` (peephole LSTM + LayerNormBasicLSTMCell) with
  ``tf.gradients``;
* a ``tf_keras`` functional model of ``modern_rnn`` cells (LayerNormLSTMCell, a peephole/projection LSTM, a
  DropoutCell-wrapped GRU), saved as ``.keras`` and loaded back in safe mode, then run inside ``tf.function``.

Each process times its first build of each (CPU seconds after the imports), as a command or a test module does:
AutoGraph rewrites a function once per process, on its first call. Rounds alternate the two sides so that machine
noise hits both. Writes its table to docs/benchmarks.md ("AutoGraph and our own layers").

    python benchmarks/bench_autograph.py [--rounds 6]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import legacy_rnn  # noqa: E402,F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import modern_rnn  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from doc_section import write_section  # noqa: E402
from migration.core import autograph_rules  # noqa: E402

START, END = "## AutoGraph and our own layers", "<!-- end bench_autograph -->"


def tf1_build() -> None:
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [4, 7, 6])
        cells = [v1.nn.rnn_cell.LSTMCell(8, use_peepholes=True), legacy_rnn.layer_norm_basic_lstm_cell(8)]
        out, _ = v1.nn.dynamic_rnn(v1.nn.rnn_cell.MultiRNNCell(cells), x, dtype=tf.float32)
        tf.gradients(tf.reduce_sum(out), v1.trainable_variables())


def keras_build(work: str) -> None:
    keras.backend.clear_session()
    inputs = keras.Input((7, 6))
    h = keras.layers.RNN(modern_rnn.LayerNormLSTMCell(8), return_sequences=True)(inputs)
    h = keras.layers.RNN(modern_rnn.ProjectionLSTMCell(8, use_peepholes=True, num_proj=5), return_sequences=True)(h)
    h = keras.layers.RNN(modern_rnn.DropoutCell(keras.layers.GRUCell(6), output_keep_prob=0.9))(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    path = os.path.join(work, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    tf.function(loaded)(np.zeros((2, 7, 6), np.float32))


def timed(fn, *args) -> float:
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


def child() -> None:
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps({"tf1": timed(tf1_build), "keras": timed(keras_build, work)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    times: dict[tuple[str, bool], list[float]] = {}
    for r in range(args.rounds):
        for side in ((True, False) if r % 2 == 0 else (False, True)):
            env = {k: v for k, v in os.environ.items() if k != autograph_rules.KEEP_ENV_VAR}
            if not side:
                env[autograph_rules.KEEP_ENV_VAR] = "1"
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], env=env, check=True,
                                 capture_output=True, text=True).stdout
            for name, seconds in json.loads(out.strip().splitlines()[-1]).items():
                times.setdefault((name, side), []).append(seconds)
    rows = []
    for name, what in (("tf1", "TF1 graph: two-layer `dynamic_rnn` (peephole LSTMCell + LayerNormBasicLSTMCell) "
                                "with `tf.gradients`"),
                       ("keras", "`tf_keras` model of three `modern_rnn` cells: build, save `.keras`, safe-mode "
                                 "load, one `tf.function` call")):
        off, on = statistics.median(times[(name, False)]), statistics.median(times[(name, True)])
        rows.append(f"| {what} | {off:.3f} | {on:.3f} | {on / off:.3f} |")
    text = "\n".join([
        START + " (`migration/core/autograph_rules.py`, `benchmarks/bench_autograph.py`)", "",
        f"Median CPU seconds of the first build in a fresh process, {args.rounds} alternating rounds (`python "
        f"benchmarks/bench_autograph.py --rounds {args.rounds}`), TensorFlow {tf.__version__}; \"converted\" is "
        "`RNN_MIGRATE_AUTOGRAPH=1` (TensorFlow's own AutoGraph rules alone: our cells' `call` rewritten, as before "
        "the rules), \"as written\" our `DoNotConvert` rules (the default).", "",
        "| build | converted | as written | ratio |", "|---|---:|---:|---:|", *rows, "", END])
    print(text)
    if not args.no_write:
        write_section(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                      "benchmarks.md"), START, END, text)


if __name__ == "__main__":
    main()
