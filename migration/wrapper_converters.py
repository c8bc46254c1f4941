"""Converters for ``tf.contrib.rnn.AttentionCellWrapper`` (``legacy_rnn.wrappers.attention_cell_wrapper``) and its
Keras twin (``modern_rnn.wrappers.AttentionCell``): small pure NumPy functions.

TF1 arrays, by name under ``<rnn scope>/attention_cell_wrapper/`` (D input depth, A attn_size, V attn_vec_size,
I the projected input size, S the cell's flattened state size, U the cell's output size)::

    kernel [D + A, I], bias [I]                       -> input_projection  (unchanged)
    <cell scope>/...                                  -> cell              (the cell's converter, depth I)
    attention/attn_w [1, 1, A, V], attention/attn_v [V] -> attn_w, attn_v  (unchanged)
    attention/kernel [S, V], attention/bias [V]       -> query             (**rows permuted**: see below)
    attn_output_projection/kernel [U + A, A], /bias [A] -> output_projection (unchanged)

The one trap: the attention query is ``concat(nest.flatten(new_state))``; TF1 flattens an ``LSTMStateTuple`` as
``c, h``, while the Keras twin's state is ``[h, c]``. The query kernel's row blocks are swapped on the way in and
back on the way out (an identity for single-tensor states: GRU, basic RNN).

The cell's own converter is a parameter (``cell_to_keras`` / ``cell_to_tf1``): the layers above pass the family
registry's (``migration.families``), so every family row's cell converts inside the wrapper (a ``UGRNNCell`` as
well as a ``BasicLSTMCell``); the default, ``migration.converters``', knows the core kinds only.

The twin's weights are returned per sublayer (a dict; :func:`load_attention_cell` sets them), because Keras
orders a layer's ``get_weights()`` by attribute tracking, not by meaning.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from migration import converters
from migration.core.errors import ShapeError, UnknownCellError, check_shape
from migration.core.specs import CellSpec

Arrays = dict[str, np.ndarray]
#: The wrapper's own TF1 arrays (the cell's live under its own scope beside them).
OWN_NAMES: tuple[str, ...] = ("kernel", "bias", "attention/attn_w", "attention/attn_v", "attention/kernel",
                              "attention/bias", "attn_output_projection/kernel", "attn_output_projection/bias")
SCOPE = "attention_cell_wrapper"


def _state_blocks(spec: CellSpec) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(TF1 flattened state sizes, the permutation of those blocks into Keras state order)."""
    return spec.tf1_state_sizes, ((1, 0) if spec.is_lstm else (0,))


def query_rows_to_keras(kernel: np.ndarray, spec: CellSpec) -> np.ndarray:
    """``attention/kernel [S, V]`` rows in TF1 flatten order (``c, h``) -> Keras state order (``h, c``)."""
    sizes, perm = _state_blocks(spec)
    blocks = np.split(np.asarray(kernel), np.cumsum(sizes)[:-1], axis=0)
    return np.concatenate([blocks[i] for i in perm], axis=0)


def query_rows_to_tf1(kernel: np.ndarray, spec: CellSpec) -> np.ndarray:
    """Inverse of :func:`query_rows_to_keras`."""
    sizes, perm = _state_blocks(spec)
    keras_sizes = [sizes[i] for i in perm]
    blocks = np.split(np.asarray(kernel), np.cumsum(keras_sizes)[:-1], axis=0)
    out = [None] * len(perm)
    for pos, i in enumerate(perm):
        out[i] = blocks[pos]
    return np.concatenate(out, axis=0)


def _shapes(spec: CellSpec, input_size: int, attn_size: int, attn_vec_size: int, projected: int) -> dict:
    return {"kernel": (input_size + attn_size, projected), "bias": (projected,),
            "attention/attn_w": (1, 1, attn_size, attn_vec_size), "attention/attn_v": (attn_vec_size,),
            "attention/kernel": (sum(spec.tf1_state_sizes), attn_vec_size), "attention/bias": (attn_vec_size,),
            "attn_output_projection/kernel": (spec.output_size + attn_size, attn_size),
            "attn_output_projection/bias": (attn_size,)}


def attention_cell_wrapper_to_keras(spec: CellSpec, tf1_arrays: Mapping[str, np.ndarray], input_size: int,
                                    cell_to_keras: Callable[[CellSpec, Mapping[str, np.ndarray], int], list]
                                    = converters.cell_to_keras) -> dict[str, list[np.ndarray]]:
    """TF1 arrays under ``attention_cell_wrapper/`` (the cell's as ``<cell scope>/<name>``) -> the twin's weights
    per sublayer: ``{"input_projection", "cell", "attn_w", "attn_v", "query", "output_projection"}``.

    ``input_size`` is the wrapper's input depth D; A, V and I are read from the arrays' shapes.
    """
    missing = [n for n in OWN_NAMES if n not in tf1_arrays]
    if missing:
        raise UnknownCellError(f"Missing AttentionCellWrapper arrays {missing} (got {sorted(tf1_arrays)}); the "
                               f"wrapper stores {list(OWN_NAMES)} beside its cell's variables.")
    attn_size = int(np.shape(tf1_arrays["attn_output_projection/bias"])[0])
    attn_vec_size = int(np.shape(tf1_arrays["attention/attn_v"])[0])
    projected = int(np.shape(tf1_arrays["bias"])[0])
    for name, shape in _shapes(spec, input_size, attn_size, attn_vec_size, projected).items():
        check_shape(name, np.shape(tf1_arrays[name]), shape,
                    f"AttentionCellWrapper around a {spec.kind} cell, input depth {input_size}")
    prefix = spec.tf1_scope + "/"
    cell = {n[len(prefix):]: v for n, v in tf1_arrays.items() if n.startswith(prefix)}
    return {"input_projection": [tf1_arrays["kernel"], tf1_arrays["bias"]],
            "cell": cell_to_keras(spec, cell, projected),
            "attn_w": [tf1_arrays["attention/attn_w"]], "attn_v": [tf1_arrays["attention/attn_v"]],
            "query": [query_rows_to_keras(tf1_arrays["attention/kernel"], spec), tf1_arrays["attention/bias"]],
            "output_projection": [tf1_arrays["attn_output_projection/kernel"],
                                  tf1_arrays["attn_output_projection/bias"]]}


def attention_cell_wrapper_to_tf1(spec: CellSpec, keras: Mapping[str, list],
                                  cell_to_tf1: Callable[[CellSpec, Sequence[np.ndarray]], dict]
                                  = converters.cell_to_tf1) -> Arrays:
    """Inverse of :func:`attention_cell_wrapper_to_keras`: per-sublayer weights -> TF1 arrays by name under
    ``attention_cell_wrapper/``."""
    expected = ("input_projection", "cell", "attn_w", "attn_v", "query", "output_projection")
    if sorted(keras) != sorted(expected):
        raise ShapeError(f"Received AttentionCell weights for {sorted(keras)}; expected {list(expected)}.")
    out = {f"{spec.tf1_scope}/{n}": v for n, v in cell_to_tf1(spec, keras["cell"]).items()}
    out.update({"kernel": keras["input_projection"][0], "bias": keras["input_projection"][1],
                "attention/attn_w": keras["attn_w"][0], "attention/attn_v": keras["attn_v"][0],
                "attention/kernel": query_rows_to_tf1(keras["query"][0], spec), "attention/bias": keras["query"][1],
                "attn_output_projection/kernel": keras["output_projection"][0],
                "attn_output_projection/bias": keras["output_projection"][1]})
    return {n: np.asarray(v) for n, v in out.items()}


def load_attention_cell(cell, weights: Mapping[str, list]) -> None:
    """Set a built ``modern_rnn.wrappers.AttentionCell``'s weights from :func:`attention_cell_wrapper_to_keras`."""
    for name in ("input_projection", "cell", "query", "output_projection"):
        getattr(cell, name).set_weights(list(weights[name]))
    cell.attn_w.assign(weights["attn_w"][0])
    cell.attn_v.assign(weights["attn_v"][0])


def read_attention_cell(cell) -> dict[str, list[np.ndarray]]:
    """A built ``AttentionCell``'s weights per sublayer (the input of :func:`attention_cell_wrapper_to_tf1`)."""
    out = {name: getattr(cell, name).get_weights() for name in ("input_projection", "cell", "query",
                                                                 "output_projection")}
    out.update(attn_w=[cell.attn_w.numpy()], attn_v=[cell.attn_v.numpy()])
    return out
