"""What ``upgrade --to keras`` learned about a cell expression: one cell, a stack, or a class chosen at run time."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field


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
