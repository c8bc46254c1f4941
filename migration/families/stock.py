"""What the stock families share: the converters of :data:`migration.converters.CONVERTERS` as row converters,
and the checkpoint spellings from before TF 1.2 (TF's own ``checkpoint_convert.py`` renamed weights/biases ->
kernel/bias for TF 1.0-1.1; TF <= 0.12 used the class name as scope and ``Linear/Matrix``, ``Linear/Bias``)."""
from __future__ import annotations

from migration import converters
from migration.families.row import Converter

PRE12: dict[str, str] = {"weights": "kernel", "biases": "bias"}
LINEAR: dict[str, str] = {"Linear/Matrix": "kernel", "Linear/Bias": "bias"}
PEEPHOLES: tuple[str, ...] = ("w_f_diag", "w_i_diag", "w_o_diag")
#: The manifest's account of LSTMCell/BasicLSTMCell weights (``Family.transforms``): Keras weight -> (TF1 names, how).
LSTM_TRANSFORMS: dict[str, tuple[tuple[str, ...], str]] = {
    "kernel": (("kernel",), "kernel[:D], gate blocks i,j,f,o -> i,f,c,o"),
    "recurrent_kernel": (("kernel",), "kernel[D:], gate blocks i,j,f,o -> i,f,c,o"),
    "bias": (("bias",), "gate blocks i,j,f,o -> i,f,c,o; b_f + forget_bias"),
    "w_i_diag": (("w_i_diag",), "copy"), "w_f_diag": (("w_f_diag",), "copy"), "w_o_diag": (("w_o_diag",), "copy"),
    "projection_kernel": (("projection/kernel",), "copy")}


def stock_converter(kind: str) -> Converter:
    """The row converter of a kind :mod:`migration.converters` already implements (pure NumPy, gate orders from
    :mod:`migration.core.gates`)."""
    c = converters.CONVERTERS[kind]
    return Converter(c.tf1_names, c.keras_names, c.to_keras, c.to_tf1, converters.tf1_shapes)
