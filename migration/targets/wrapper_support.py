"""The ``tf.contrib.rnn`` cell wrappers that own weights, as rows of the targets' support table (docs/targets.md,
"Per wrapper"; :func:`migration.targets.table.wrapper_table`): what each target writes for a block whose cell is in
one, like the family rows' ``export`` column (:class:`migration.families.Family`). DropoutWrapper owns no weights (at
inference the block is its inner cells) and is not a row."""
from __future__ import annotations

#: (TF1 wrapper classes, Keras 2 twin, {target: answer}) in the order of docs/targets.md
WRAPPERS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("InputProjectionWrapper, OutputProjectionWrapper, EmbeddingWrapper (alone or nested)",
     "the block model between the wrapper's Dense / Embedding (the whole model's `<block>_wrapped` layer)",
     {"keras3": "exact: the block's Keras 3 twin between keras.layers.Embedding (ids cast to int32) / Dense, the "
                "output projection's Dense zeroed past each length (dynamic_rnn's zero outputs); the state the "
                "cell's, never projected (migration/targets/wrapped_whole.py)",
      "onnx": "exact: the block graph inlined between Cast + Gather / MatMul + Add, the output projection's MatMul + "
              "Add then Where on the sequence mask; the state the cell's"}),
    ("AttentionCellWrapper (state_is_tuple=True; any cell the Keras 2 conversion takes inside it)",
     "modern_rnn.AttentionCell",
     {"keras3": "exact with a custom layer: rnn_migrate>AttentionCell in keras.layers.RNN around the cell's Keras 3 "
                "cell (`import migration.targets.keras3_wrappers`, and `keras3_cells` for a custom cell; the Keras 2 "
                "arrays, the query rows in Keras state order)",
      "onnx": "exact with an op set: a Scan whose body is the wrapper's step around the cell's (Concat, MatMul, Add, "
              "Reshape, Tanh, Mul, ReduceSum, Softmax, Slice; the state the cell's, attns, the window [B, L*A] as "
              "TF1 keeps it; opset 17)"}),
)
