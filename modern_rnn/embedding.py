"""Keras 2 embeddings: the twins of :mod:`legacy_rnn.embedding`.

A TF1 lookup becomes a Keras ``Embedding`` layer whose rows are the TF1 matrix, **permuted** when the TF1 variable
was partitioned and looked up with ``partition_strategy='mod'`` (see
:func:`migration.converters.mod_partition_permutation`). Keras saves non-trainable weights too, so a frozen GloVe
matrix ends up in Keras checkpoints (unlike the TF1 graph constant).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import tf_keras as keras


def _check_matrix(name: str, matrix) -> np.ndarray:
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"Received an invalid shape for `{name}`: expected (vocab_size, dim), got {matrix.shape}.")
    return matrix


def glove_embedding(matrix: np.ndarray, ids=None, mask_zero: bool = False) -> keras.layers.Embedding:
    """``Embedding(V, E, embeddings_initializer=Constant(matrix), trainable=False)``: a frozen GloVe lookup.

    Returns the layer; with ``ids`` given, call it on them and return the lookups instead (mirroring the legacy
    signature).

    Legacy equivalent: :func:`legacy_rnn.embedding.glove_embedding`.
    """
    matrix = _check_matrix("matrix", matrix).astype(np.float32, copy=False)
    layer = keras.layers.Embedding(matrix.shape[0], matrix.shape[1], trainable=False, mask_zero=mask_zero,
                                   embeddings_initializer=keras.initializers.Constant(matrix))
    return layer if ids is None else layer(ids)


def embedding_variable(name: str, matrix: Optional[np.ndarray] = None, shape: Optional[tuple[int, int]] = None,
                       trainable: bool = True, num_shards: int = 1) -> keras.layers.Embedding:
    """An ``Embedding`` layer named ``name``; ``num_shards`` is accepted for symmetry (Keras does not partition).

    Load converted TF1 rows with ``layer.set_weights([rows])``.

    Legacy equivalent: :func:`legacy_rnn.embedding.embedding_variable`.
    """
    if (matrix is None) == (shape is None):
        raise ValueError("Received both or neither of `matrix` and `shape`: give exactly one.")
    if num_shards < 1:
        raise ValueError(f"Received an invalid value for `num_shards`: expected a positive integer, got {num_shards!r}.")
    if matrix is not None:
        matrix = _check_matrix("matrix", matrix).astype(np.float32, copy=False)
        return keras.layers.Embedding(matrix.shape[0], matrix.shape[1], trainable=trainable, name=name,
                                      embeddings_initializer=keras.initializers.Constant(matrix))
    return keras.layers.Embedding(int(shape[0]), int(shape[1]), trainable=trainable, name=name)


def embedding_lookup(params: keras.layers.Embedding, ids, partition_strategy: str = "div"):
    """``params(ids)``, where ``params`` is the ``Embedding`` layer.

    Keras always reads row ``ids`` directly (TF1's ``'div'``); a TF1 ``'mod'`` lookup over a partitioned variable is
    reproduced by loading the rows permuted, not by this call.

    Legacy equivalent: :func:`legacy_rnn.embedding.embedding_lookup`.
    """
    if partition_strategy != "div":
        raise ValueError(
            f"Received partition_strategy={partition_strategy!r}: a Keras Embedding reads rows directly ('div'). For a "
            "TF1 'mod' lookup, load rows permuted by migration.converters.mod_partition_permutation(vocab, shards)."
        )
    return params(ids)
