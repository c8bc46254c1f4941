"""TF1 embeddings: ``embedding_lookup`` on a GloVe NumPy matrix, on a variable, and on a partitioned variable.

Read beside :mod:`modern_rnn.embedding`. Facts that decide the conversion:

* a NumPy matrix passed to ``embedding_lookup`` becomes a **Const node in the GraphDef** (not in the checkpoint; the
  GraphDef has a 2 GiB limit); a float64 matrix yields float64 lookups that ``dynamic_rnn(dtype=float32)`` rejects;
* a variable (``tf.Variable``, ``get_variable``) is saved under its name; the ``trainable`` flag is not saved;
* a partitioned variable is saved as **one full tensor**, but ``embedding_lookup``'s default
  ``partition_strategy='mod'`` reads id i from ``part[i % P][i // P]``, not ``full[i]``
  (see :func:`migration.converters.mod_partition_permutation`).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def _check_matrix(name: str, matrix) -> np.ndarray:
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"Received an invalid shape for `{name}`: expected (vocab_size, dim), got {matrix.shape}.")
    return matrix


def glove_embedding(matrix: np.ndarray, ids) -> tf.Tensor:
    """``tf.nn.embedding_lookup(glove_matrix, ids)`` as in seed 004: the matrix is embedded as a graph constant.

    The matrix is cast to float32 first (a float64 GloVe would make the lookups float64 and break ``dynamic_rnn``).

    Modern equivalent: :func:`modern_rnn.embedding.glove_embedding` (frozen ``Embedding`` with a ``Constant``).
    """
    matrix = _check_matrix("matrix", matrix).astype(np.float32, copy=False)
    return v1.nn.embedding_lookup(matrix, ids)


def embedding_variable(name: str, matrix: Optional[np.ndarray] = None, shape: Optional[tuple[int, int]] = None,
                       trainable: bool = True, num_shards: int = 1):
    """``get_variable(name, ...)``, partitioned into ``num_shards`` parts with ``fixed_size_partitioner`` when > 1.

    Give either ``matrix`` (initial value, e.g. GloVe) or ``shape``. Returns the variable (a ``PartitionedVariable``
    when sharded). The checkpoint holds one full ``[V, E]`` tensor under ``name`` either way.

    Modern equivalent: :func:`modern_rnn.embedding.embedding_variable` (an ``Embedding`` layer).
    """
    if (matrix is None) == (shape is None):
        raise ValueError("Received both or neither of `matrix` and `shape`: give exactly one.")
    if num_shards < 1:
        raise ValueError(f"Received an invalid value for `num_shards`: expected a positive integer, got {num_shards!r}.")
    partitioner = v1.fixed_size_partitioner(num_shards) if num_shards > 1 else None
    if matrix is not None:
        matrix = _check_matrix("matrix", matrix).astype(np.float32, copy=False)
        return v1.get_variable(name, shape=matrix.shape, initializer=_rows_initializer(matrix),
                               trainable=trainable, partitioner=partitioner)
    return v1.get_variable(name, shape=list(shape), trainable=trainable, partitioner=partitioner)


def _rows_initializer(matrix: np.ndarray):
    """Initialise a (possibly partitioned) variable from ``matrix``: each part gets its own rows.

    ``constant_initializer`` cannot do this (it receives the part's shape and refuses a full matrix).
    """
    def initializer(shape, dtype=None, partition_info=None):
        offset = partition_info.var_offset[0] if partition_info is not None else 0
        return tf.constant(matrix[offset:offset + shape[0]], dtype=dtype or tf.float32)

    return initializer


def embedding_lookup(params, ids, partition_strategy: str = "mod") -> tf.Tensor:
    """``tf.compat.v1.nn.embedding_lookup(params, ids, partition_strategy)``: params may be a matrix, a variable or a
    partitioned variable. With several partitions, ``'mod'`` (TF1's default) and ``'div'`` read different rows.

    Modern equivalent: :func:`modern_rnn.embedding.embedding_lookup`.
    """
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"Received an invalid value for `partition_strategy`: expected 'mod' or 'div', got {partition_strategy!r}.")
    return v1.nn.embedding_lookup(params, ids, partition_strategy=partition_strategy)
