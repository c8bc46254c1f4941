"""What ``upgrade --to keras`` learned about a cell expression: one cell, a stack, or a class chosen at run time."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field


CONVERT_NOTE = "# Weights: convert the TF1 checkpoint with `rnn-migrate convert CKPT OUT_DIR` ({})."
CONSEQUENCE = {
    "SimpleRNN": "kernel split into kernel/recurrent_kernel",
    "LSTM": "gate order i,j,f,o -> i,f,c,o; forget_bias folded into the forget-gate bias; state (c,h) vs [h,c]",
    "GRU": "[r|u] -> z,r,h; reset_after=False",
}


@dataclass
class CellSpec:
    kind: str  # Keras layer name
    tf1: str
    units: str
    forget_bias: str | None = None
    input_keep: str | None = None
    output_keep: str | None = None
    statements: list[int] = field(default_factory=list)  # lines of the statements that built it


@dataclass
class StackSpec:
    """``MultiRNNCell([...])``: ``cells`` one per layer, or ``template`` repeated ``count`` times (a comprehension)."""

    cells: list[CellSpec] = field(default_factory=list)
    template: CellSpec | None = None
    count: str = ""
    statements: list[int] = field(default_factory=list)
    over: bool = False  # ``[Cell(n) for n in SIZES]``: ``count`` is SIZES, the template's text uses LAYER_ARG


LAYER_ARG = "_layer_arg"  # the emitted loop's name for a comprehension variable the cells use


@dataclass
class ChoiceSpec:
    """A cell class (or cell) chosen at run time: ``rnn.GRUCell if flag else rnn.BasicLSTMCell``."""

    candidates: list[str]
    line: int
    col: int


def tuple_state(kwargs: dict[str, ast.expr]) -> bool:
    """``state_is_tuple`` absent or literally True: the state is a tuple (False concatenates it: not rewritten)."""
    flag = kwargs.get("state_is_tuple")
    return flag is None or (isinstance(flag, ast.Constant) and flag.value is True)


def rel_path(path: str) -> str:
    for prefix in ("tensorflow.compat.v1.", "tensorflow."):
        if path.startswith(prefix):
            return path[len(prefix):]
    return ""


def unknown_cell(node: ast.expr, text: str) -> str:
    text = text if len(text) <= 60 else text[:57] + "..."
    if isinstance(node, ast.Name):
        return (f"the cell `{text}` is not built in this scope by a recognised expression (a function parameter, or "
                "a cell kind/option with no exact Keras layer): rewrite where it is built")
    if isinstance(node, ast.Attribute):
        return f"the cell `{text}` is an attribute set elsewhere: not followed"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return f"the cell comes from the method call `{text}`: methods are not followed"
    return f"the cell expression `{text}` is not a recognised shape"


def short_name(rel: str) -> str:
    for prefix in ("nn.rnn_cell.", "contrib.rnn.", "nn."):
        if rel.startswith(prefix):
            return rel[len(prefix):]
    return rel
