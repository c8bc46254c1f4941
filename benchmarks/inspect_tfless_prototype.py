"""Prototype of a TensorFlow-free ``rnn-migrate inspect`` (issue 23), for measurement only: not product code.

Runs today's ``rnn-migrate inspect`` with ``tensorflow`` replaced by a stub module that offers only what the
inspect path calls (``tf.train.load_checkpoint`` -> shape/dtype maps, ``tf.train.latest_checkpoint``,
``meta_graph_pb2.MetaGraphDef``, ``variable_pb2.VariableDef``, ``dtypes.as_dtype(n).name``, ``tf.make_ndarray``,
``tensor_util.MakeNdarray``),
all served by :mod:`migration.core.tfproto`; any other use of TensorFlow raises ``AttributeError``, and importing
TensorFlow, tf_keras, Keras, ml_dtypes, legacy_rnn or modern_rnn raises ``ImportError``. The same output as the real
command (``benchmarks/bench_tfless.py`` compares the two) shows what wiring the readers into
``migration/checkpoint/reader.py`` and ``meta.py`` gives, and how fast.

    python benchmarks/inspect_tfless_prototype.py CKPT [--json]
"""
from __future__ import annotations

import importlib.abc
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import migration.core.tfproto as tp  # noqa: E402
from migration.core.tfproto.ndarray import ITEM_BYTES  # noqa: E402

BLOCKED = ("tensorflow", "tf_keras", "keras", "ml_dtypes", "legacy_rnn", "modern_rnn", "tf_slim")


class _Stub(types.ModuleType):
    def __getattr__(self, name: str):
        raise AttributeError(f"the TensorFlow stub has no {self.__name__}.{name}: this path still needs TensorFlow")


class _DType:
    def __init__(self, number: int) -> None:
        self.name = tp.dtype_name(number)


class _Reader:
    """``tf.train.load_checkpoint(prefix)``: the two maps ``CheckpointReader.__init__`` reads."""

    def __init__(self, prefix: str) -> None:
        self.index = tp.read_index(prefix + ".index")

    def get_variable_to_shape_map(self) -> dict:
        return {name: list(shape) for name, shape in self.index.shape_map().items()}

    def get_variable_to_dtype_map(self) -> dict:
        return {name: _DType(entry.dtype) for name, entry in self.index.variables.items()}


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"the TensorFlow-free prototype refuses to import {name}")
        return None


def _stub(name: str, **attrs) -> _Stub:
    module = _Stub(name)
    module.__path__ = []
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def install() -> None:
    tf = _stub("tensorflow", make_ndarray=tp.make_ndarray)
    tf.train = types.SimpleNamespace(load_checkpoint=_Reader, latest_checkpoint=tp.latest_checkpoint)
    for package in ("tensorflow.core", "tensorflow.core.protobuf", "tensorflow.core.framework", "tensorflow.python",
                    "tensorflow.python.framework"):
        _stub(package)
    _stub("tensorflow.core.protobuf.meta_graph_pb2", MetaGraphDef=tp.MetaGraphDef)
    _stub("tensorflow.core.framework.variable_pb2", VariableDef=tp.VariableDef)
    _stub("tensorflow.python.framework.dtypes", as_dtype=_DType)
    _stub("tensorflow.python.framework.tensor_util", MakeNdarray=tp.make_ndarray)
    sys.meta_path.insert(0, _Blocker())
    from migration.checkpoint import reader

    # VariableInfo.nbytes asks NumPy for np.dtype('bfloat16'), which only ml_dtypes (imported by TF) registers
    names = {name: number for number, name in tp.DTYPE_NAMES.items()}
    reader.VariableInfo.nbytes = property(lambda v: 0 if v.dtype == "string" else int(
        np.prod(v.shape, dtype=np.int64)) * ITEM_BYTES[names[v.dtype]])


if __name__ == "__main__":
    install()
    from migration.cli import main

    sys.exit(main(["inspect", *sys.argv[1:]]))
