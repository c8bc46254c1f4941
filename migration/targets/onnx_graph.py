"""The small ONNX graph builder the target graphs share (:mod:`migration.targets.onnx_export`,
:mod:`migration.targets.onnx_cells`, :mod:`migration.targets.whole`): nodes, initializers and unique names."""
from __future__ import annotations

from typing import Sequence

import numpy as np


class Graph:
    def __init__(self) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, stem: str, array: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node_named(self, op: str, inputs: Sequence[str], outputs: Sequence[str], **attrs) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), name=self.name(op), **attrs))

    def node(self, op: str, inputs: Sequence[str], n_out: int = 1, **attrs) -> list[str]:
        from onnx import helper

        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=self.name(op), **attrs))
        return outs
