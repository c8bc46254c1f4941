"""Rule ``cell_choice``: ``Cell = tf.nn.rnn_cell.GRUCell if gru else tf.nn.rnn_cell.LSTMCell`` (a run-time choice)
is reported as information: it runs as written, ``--to keras`` converts each candidate by hand."""
from __future__ import annotations

from migration.upgrade.context import PlanContext
from migration.upgrade.resolve import Reference
from migration.upgrade.rules.base import Example, Rule

CELL_CLASSES = ("BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "DropoutWrapper")


def apply(p: PlanContext, ref: Reference) -> bool:
    if ref.kind != "choice":
        return False
    names = [path.rsplit(".", 1)[-1] for path in ref.path.split(" | ")]
    if all(n in CELL_CLASSES for n in names):
        p.note(p.span(ref), "run-time cell choice", "the cell class is chosen at run time: one of "
               + ", ".join(names) + "; `--to keras` converts each candidate by hand (their checkpoints differ)",
               "choice")
    return True


RULE = Rule("cell_choice", "ref", "a cell class chosen at run time: information", apply, (
    Example("import tensorflow as tf\ncell = tf.nn.rnn_cell.GRUCell if gru else tf.nn.rnn_cell.LSTMCell\n",
            "import tensorflow as tf\ncell = tf.compat.v1.nn.rnn_cell.GRUCell if gru else "
            "tf.compat.v1.nn.rnn_cell.LSTMCell\n"),
))
