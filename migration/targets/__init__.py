"""Output targets beyond Keras 2: each converted RNN block also as a Keras 3 model and as an ONNX graph, each
verified against the user's original TF1 graph (``rnn-migrate convert CKPT OUT --target keras3 --target onnx``).

Layer: just below the jobs (it reads the family rows and runs the original graph through :mod:`migration.graph`;
``migration.checkpoint.convert`` calls :func:`migration.targets.export.export_targets` once, before the output is
installed). Modules:

* :mod:`~migration.targets.weights`: which cells a target takes (the family rows' ``export`` column) and their
  converted arrays (the family converters, the very arrays the Keras 2 block gets);
* :mod:`~migration.targets.keras3`: the Keras 3 block model (``blocks/<name>.keras3.keras``);
* :mod:`~migration.targets.keras3_cells`: the Keras 3 custom cells of the families no standard layer computes
  (registered as ``rnn_migrate>Class``; imports only keras);
* :mod:`~migration.targets.onnx_export`: the ONNX block graph (``blocks/<name>.onnx``, standard LSTM/GRU/RNN ops);
* :mod:`~migration.targets.onnx_cells`: those families' steps as ONNX ``Scan`` bodies of plain ops;
  :mod:`~migration.targets.onnx_graph`: the small graph builder both use;
* :mod:`~migration.targets.whole`: the whole model (``model.keras3.keras``, ``model.onnx``) read from the Keras 2
  one's functional graph; its glue ops in :mod:`~migration.targets.keras3_glue` (``keras.ops``) and
  :mod:`~migration.targets.onnx_glue` (ONNX nodes), what both share in :mod:`~migration.targets.glue`;
* :mod:`~migration.targets.onnx_seq2seq`: the ``tf.contrib.seq2seq`` attention decoders to ONNX
  (``seq2seq/<name>.onnx``, the whole model's ``TeacherForcedDecoder`` layers), their step in
  :mod:`~migration.targets.onnx_attention`, greedy decoding as a ``Loop`` in :mod:`~migration.targets.onnx_greedy`,
  beam search (a decoding ``Loop`` and ``gather_tree``'s) in :mod:`~migration.targets.onnx_beam`;
* :mod:`~migration.targets.verify_targets`: both against the original graph (Keras 3 on the TensorFlow backend here
  and on the JAX backend in a subprocess, ONNX with onnxruntime);
* :mod:`~migration.targets.export`: the entry point ``convert`` calls, and the manifest entry.

See docs/targets.md.
"""
from migration.families.row import EXPORT_TARGETS

#: every ``--target`` value; ``keras2`` is what ``convert`` always writes
TARGETS: tuple[str, ...] = ("keras2",) + EXPORT_TARGETS

__all__ = ["EXPORT_TARGETS", "TARGETS"]
