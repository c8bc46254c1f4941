"""Issue 24: blocks whose cells are in the ``tf.contrib.rnn`` wrappers that own weights, on Keras 3 and ONNX:
InputProjectionWrapper / OutputProjectionWrapper / EmbeddingWrapper (the whole model's ``<block>_wrapped`` layers,
migration/targets/wrapped_whole.py) and AttentionCellWrapper (``rnn_migrate>AttentionCell``,
migration/targets/keras3_wrappers.py; an ONNX Scan of the wrapper's step around the cell's,
migration/targets/attention_export.py).

One real TF1 program (Saver + .meta), converted ONCE with both targets (suite time: one conversion, one JAX child):

* the projection wrappers nested both ways round: ``OutputProjectionWrapper(InputProjectionWrapper(
  BasicLSTMCell(4, forget_bias 0.6), 5), 3)`` on ``x``, ``EmbeddingWrapper(OutputProjectionWrapper(GRUCell(4), 2), V,
  3)`` on int32 ids ``[B, T, 1]`` (each wrapper alone, with float ids: tests/checkpoint/test_wrapper_convert.py's
  program, whose whole models the survey runs through the targets);
* three ``AttentionCellWrapper`` blocks with distinct attn_length / attn_size / attn_vec_size / input_size around a
  BasicLSTMCell(forget_bias 0.5), a GRUCell, and an LSTMCell with peepholes and num_proj (a custom step:
  ProjectionLSTMCell, state ``(c, m)`` of different widths, so the query rows' order shows); the attention weights
  scaled up so that the softmax is far from uniform.

The head reads every block's outputs summed over time (the zeros past each length matter: a projection's bias must
not be there) and a final state (the cell's, never projected). The original session records the logits on full-length
and ragged lengths and the attention blocks' flat outputs (outputs, the cell state in TF1 order, attns, the window
``[B, L*A]``). Checked: convert's own checks (every block and the whole model against the original graph, Keras 3 on
TensorFlow and JAX, onnxruntime; the projection-wrapped blocks' target files between the checkpoint's wrapper arrays
against the original loop); the files loaded as a user loads them equal the recorded session; negative controls:
each projection wrapper's array with two rows swapped, the attention query kernel's row blocks left in TF1's ``(c,
h)`` order, each on both targets (> 1e-3, and the verifier's comparison fails).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

TOL = 1e-5
B, T, D, V = 4, 6, 4, 7
RAGGED = np.array([6, 1, 4, 3], np.int32)
#: attention block scope -> (attn_length, attn_size, attn_vec_size, input_size)
SIZES = {"atta": (3, 3, 2, 5), "attb": (2, 4, 3, 3), "attc": (4, 2, 2, 4)}


def _attention_cells():
    import legacy_rnn

    return {"atta": legacy_rnn.basic_lstm_cell(4, forget_bias=0.5), "attb": legacy_rnn.gru_cell(3),
            "attc": legacy_rnn.lstm_cell(3, use_peepholes=True, num_proj=2, forget_bias=0.7)}


def _build(directory: str) -> tuple[str, dict]:
    import legacy_rnn
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph(11) as graph:
        x = v1.placeholder(tf.float32, [None, T, D], name="x")
        ids = v1.placeholder(tf.int32, [None, T, 1], name="ids")
        length = v1.placeholder(tf.int32, [None], name="length")

        def run(cell, inputs, scope):
            return legacy_rnn.dynamic_rnn(cell, inputs, sequence_length=length, scope=scope, dtype=tf.float32)

        a_out, a_state = run(legacy_rnn.output_projection_wrapper(legacy_rnn.input_projection_wrapper(
            legacy_rnn.basic_lstm_cell(4, forget_bias=0.6), 5), 3), x, "a")
        b_out, b_state = run(legacy_rnn.embedding_wrapper(legacy_rnn.output_projection_wrapper(
            legacy_rnn.gru_cell(4), 2), V, 3), ids, "b")
        feats = [tf.reduce_sum(a_out, 1), a_state.c, tf.reduce_sum(b_out, 1), b_state]
        flat = {}
        for scope, cell in _attention_cells().items():
            length_, size, vec, inp = SIZES[scope]
            out, state = run(legacy_rnn.attention_cell_wrapper(cell, length_, attn_size=size, attn_vec_size=vec,
                                                               input_size=inp), x, scope)
            flat[scope] = tf.nest.flatten((out, state))
            feats += [tf.reduce_sum(out, 1), tf.nest.flatten(state)[0]]
        logits = v1.layers.dense(tf.concat(feats, -1), 3, name="head")
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        rng = np.random.default_rng(11)
        for var in v1.global_variables():  # seeded, asymmetric, biases non-zero; the attention's larger
            scale = (4.0 if "/attention/" in var.op.name else 1.0) / np.sqrt(var.shape.as_list()[0])
            var.load((rng.uniform(-1.6, 1.6, var.shape.as_list()) * scale).astype(np.float32), sess)
        feeds = {"x": rng.normal(0, 1, (B, T, D)).astype(np.float32),
                 "ids": rng.integers(0, V, (B, T, 1)).astype(np.int32)}
        recorded = {"feeds": feeds, "logits": {}}
        for name, lengths in (("full", np.full(B, T, np.int32)), ("ragged", RAGGED)):
            recorded["logits"][name] = sess.run(logits, {x: feeds["x"], ids: feeds["ids"], length: lengths})
        recorded["blocks"] = sess.run(flat, {x: feeds["x"], length: RAGGED})
        prefix = v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))
    return prefix, recorded


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp("cell_wrappers")
    os.makedirs(root / "ckpt")
    prefix, recorded = _build(str(root / "ckpt"))
    result = convert_checkpoint(prefix, root / "out", targets=["keras3", "onnx"])
    assert result.ok, result.verification
    recorded["prefix"] = prefix
    return str(root / "out"), result.manifest, recorded


def _args(entry: dict, recorded: dict, lengths: np.ndarray) -> list[np.ndarray]:
    values = dict(recorded["feeds"], length=lengths)
    return [values[name.split(":")[0]] for name in entry["inputs"]]


def _keras3(path: str, entry: dict, recorded: dict, lengths: np.ndarray, mutate=None) -> np.ndarray:
    from migration.targets import keras3

    model = keras3.load_block(path)
    if mutate is not None:
        mutate(model)
    return np.asarray(model(_args(entry, recorded, lengths), training=False))


def _onnx(path: str, entry: dict, recorded: dict, lengths: np.ndarray, mutate=None) -> np.ndarray:
    import onnx
    import onnxruntime as ort

    model = onnx.load(path)
    if mutate is not None:
        mutate(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(zip(entry["model_inputs"], _args(entry, recorded, lengths))))[0]


def test_whole_models_are_written_and_verified_against_the_original_graph(converted):
    out, manifest, _ = converted
    wrapped = [k for k, v in manifest["model"]["layers"].items() if "block" in v and k.endswith("_wrapped")]
    assert len(wrapped) == 2 and all(os.path.isfile(os.path.join(out, f)) for f in ("model.keras3.keras",
                                                                                   "model.onnx"))
    for target, backends in (("keras3", {"tensorflow", "jax"}), ("onnx", {"onnxruntime"})):
        entry = manifest["targets"][target]
        assert entry["model"]["file"] and not entry["not_exported"], entry
        checks = [c for c in entry["verification"]["checks"] if c["what"] == "whole model"]
        assert {c["backend"] for c in checks} == backends
        assert all(c["reference"] == "original-graph" and c["max_abs_diff"] <= TOL for c in checks), checks
    assert not [n for n in manifest["targets"].get("notes", []) if "no whole model" in n]


def test_both_files_give_the_recorded_logits_on_full_and_ragged_lengths(converted):
    out, manifest, recorded = converted
    full, ragged = recorded["logits"]["full"], recorded["logits"]["ragged"]
    assert np.abs(full - ragged).max() > 0.1 and np.abs(full).max() > 0.1  # the lengths and the blocks matter
    for name, lengths in (("full", np.full(B, T, np.int32)), ("ragged", RAGGED)):
        expected = recorded["logits"][name]
        entry = manifest["targets"]["keras3"]["model"]
        got = _keras3(os.path.join(out, entry["file"]), entry, recorded, lengths)
        assert np.abs(got - expected).max() <= TOL, name
        entry = manifest["targets"]["onnx"]["model"]
        got = _onnx(os.path.join(out, entry["file"]), entry, recorded, lengths)
        assert np.abs(got - expected).max() <= TOL, name


#: a wrapper's array in the targets' whole-model files, two rows swapped: (Keras 3 layer path, ONNX initializer stem)
TAMPERED = {"a input projection": ("block_a_output_projection_wrapper_input_projection_wrapper_wrapped",
                                   "input_projection_wrapper", "input_projection_wrapper_kernel"),
            "b embedding": ("block_b_embedding_wrapper_output_projection_wrapper_wrapped", "embedding_wrapper",
                            "embedding_wrapper"),
            "a output projection": ("block_a_output_projection_wrapper_input_projection_wrapper_wrapped",
                                    "output_projection_wrapper", "output_projection_wrapper_kernel")}


def _swap(array: np.ndarray) -> np.ndarray:
    out = np.array(array)
    out[[0, 1]] = out[[1, 0]]
    return out


def test_a_wrapper_kernel_with_rows_swapped_is_caught(converted):
    """Each target's whole model with one wrapper's array tampered (each wrapper in turn, the files loaded as a user
    loads them): the logits move > 1e-3 on Keras 3 and onnxruntime, and the verifier's comparison
    (migration.targets.verify_targets: compare, summary) fails both targets. (The JAX backend runs the same Keras 3
    file, checked by convert above; not repeated here for suite time.)"""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from migration.targets import keras3
    from migration.targets.verify_targets import compare, summary

    out, manifest, recorded = converted
    expected = [recorded["logits"]["ragged"]]
    fake = {"name": "whole model", "outputs": manifest["targets"]["onnx"]["model"]["outputs"]}
    k3 = keras3.load_block(os.path.join(out, "model.keras3.keras"))
    k3_args = _args(manifest["targets"]["keras3"]["model"], recorded, RAGGED)
    onnx_entry = manifest["targets"]["onnx"]["model"]
    checks = []
    for which, (outer, inner, stem) in sorted(TAMPERED.items()):
        layer = k3.get_layer(outer).get_layer(inner)
        saved = layer.get_weights()
        layer.set_weights([_swap(saved[0])] + saved[1:])
        checks += compare("keras3", "tensorflow", dict(fake, what=which), "original-graph", expected,
                          [np.asarray(k3(k3_args, training=False))])
        layer.set_weights(saved)
        model = onnx.load(os.path.join(out, onnx_entry["file"]))
        (init,) = [i for i in model.graph.initializer if i.name.startswith(f"{outer}/{stem}_")]
        init.CopyFrom(numpy_helper.from_array(_swap(numpy_helper.to_array(init)), init.name))
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        checks += compare("onnx", "onnxruntime", dict(fake, what=which), "original-graph", expected,
                          sess.run(None, dict(zip(onnx_entry["model_inputs"], _args(onnx_entry, recorded, RAGGED)))))
    assert np.abs(np.asarray(k3(k3_args, training=False)) - expected[0]).max() <= TOL  # restored: exact again
    # the output projection not zeroed past each length (its bias there instead: Where's zero -> the bias) changes
    # nothing on full lengths and moves the ragged logits: the mask is load-bearing
    outer = TAMPERED["a output projection"][0]
    model = onnx.load(os.path.join(out, onnx_entry["file"]))
    inits = {i.name.split("/")[-1].rsplit("_", 1)[0]: i for i in model.graph.initializer
             if i.name.startswith(outer + "/") and "/cell/" not in i.name}
    inits["zero"].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(inits["output_projection_wrapper_bias"]),
                                                   inits["zero"].name))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for name, lengths, moved in (("full", np.full(B, T, np.int32), False), ("ragged", RAGGED, True)):
        got = sess.run(None, dict(zip(onnx_entry["model_inputs"], _args(onnx_entry, recorded, lengths))))[0]
        assert (np.abs(got - recorded["logits"][name]).max() > 1e-3) == moved, name
    assert len(checks) == 6 and all(c.max_abs_diff > 1e-3 for c in checks), [(c.what, c.backend, c.max_abs_diff)
                                                                             for c in checks]
    result = summary(checks, [])
    assert not result["keras3"]["ok"] and not result["onnx"]["ok"]


def test_the_bare_blocks_are_checked_between_their_wrappers_against_the_original_loop(converted, tmp_path):
    """Each wrapped block's target files (the bare cell) between the checkpoint's wrapper arrays against the original
    graph's loop (migration/targets/wrapped_check.py), on both targets; the LSTM block's first two gate blocks
    swapped in each target file fails that check (> 1e-3)."""
    import onnx
    from onnx import numpy_helper

    from migration.checkpoint.reader import CheckpointReader
    from migration.graph.blocks import find_loops
    from migration.graph.reference import OriginalGraph
    from migration.targets import keras3
    from migration.targets.wrapped_check import wrapped_block_checks

    out, manifest, recorded = converted
    wrapped = [b["name"] for b in manifest["blocks"] if b["name"][0] in "ab" and not b["name"].startswith("att")]
    for target in ("keras3", "onnx"):
        checks = [c for c in manifest["targets"][target]["verification"]["checks"]
                  if "between its wrappers" in c["what"]]
        assert {c["what"].split()[1] for c in checks} == set(wrapped) and len(checks) == 5  # outputs, c, h; outputs, h
        assert all(c["reference"] == "original-graph" and c["max_abs_diff"] <= TOL for c in checks), checks
    (lstm,) = [b for b in manifest["blocks"] if b["name"].startswith("a_")]
    files = {t: {lstm["name"]: next(e["file"] for e in manifest["targets"][t]["blocks"] if e["name"] == lstm["name"])}
             for t in ("keras3", "onnx")}
    os.makedirs(tmp_path / "blocks")
    model = keras3.load_block(os.path.join(out, files["keras3"][lstm["name"]]))
    (layer,) = [l for l in model.layers if l.get_weights()]
    kernel, *rest = layer.get_weights()
    layer.set_weights([np.concatenate([kernel[:, 4:8], kernel[:, :4], kernel[:, 8:]], 1)] + rest)  # i <-> f
    model.save(str(tmp_path / files["keras3"][lstm["name"]]))
    proto = onnx.load(os.path.join(out, files["onnx"][lstm["name"]]))
    (w,) = [i for i in proto.graph.initializer if i.name.startswith("W")]
    array = numpy_helper.to_array(w)
    w.CopyFrom(numpy_helper.from_array(np.concatenate([array[:, 4:8], array[:, :4], array[:, 8:]], 1), w.name))
    onnx.save(proto, str(tmp_path / files["onnx"][lstm["name"]]))
    reader = CheckpointReader(recorded["prefix"])
    original = OriginalGraph(recorded["prefix"] + ".meta", reader)
    checks = wrapped_block_checks([lstm], files, str(tmp_path), lambda: (original, find_loops(original)), reader)
    assert {(c.target, c.reference) for c in checks} == {("keras3", "original-graph"), ("onnx", "original-graph")}
    assert len(checks) == 6 and all(c.max_abs_diff > 1e-3 for c in checks), checks


def test_a_nested_form_the_targets_do_not_translate_is_named():
    """The narrowed refusal (migration/targets/wrapped_whole.py): a ``<block>_wrapped`` layer holding something
    rnn-migrate's Keras 2 conversion never writes (an activation on the projection, a foreign Dense) is not
    translated: NotExportable naming the layer and what is in the way. A plain block model is not 'wrapped'."""
    from migration.targets.glue import NotExportable
    from migration.targets.wrapped_whole import is_wrapped, parse

    def nested(*inner):
        return {"class_name": "Functional", "name": "block_b_wrapped", "config": {
            "name": "block_b_wrapped", "input_layers": [["x", 0, 0]], "output_layers": [["block_b", 1, 0]],
            "layers": [{"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [None, None, 3]}},
                       {"class_name": "Functional", "name": "block_b", "config": {}},
                       *({"class_name": c, "name": n, "config": dict(cfg, name=n)} for c, n, cfg in inner)]}}

    cases = {"activation 'tanh'": nested(("Dense", "output_projection_wrapper", {"activation": "tanh"})),
             "Dense 'dense'": nested(("Dense", "dense", {})),
             "has no bias": nested(("Dense", "input_projection_wrapper", {"use_bias": False})),
             "an embedding and an input projection": nested(("Embedding", "embedding_wrapper", {}),
                                                            ("Dense", "input_projection_wrapper", {})),
             "Lambda": nested(("Dense", "input_projection_wrapper", {}), ("Lambda", "lambda", {}))}
    for why, layer in cases.items():
        assert is_wrapped(layer)
        with pytest.raises(NotExportable, match=r"layer 'block_b_wrapped' is a block whose cell is in a tf\.contrib"
                                                r"\.rnn cell wrapper with weights, but .*" + why):
            parse(layer, None)
    plain = nested()
    plain["config"]["layers"].append({"class_name": "RNN", "name": "rnn", "config": {}})
    assert not is_wrapped(plain)


def _blocks(manifest: dict) -> dict[str, dict]:
    """attention block scope -> the manifest block."""
    return {b["name"].split("_", 1)[0]: b for b in manifest["blocks"] if b["name"].split("_", 1)[0] in SIZES}


def test_every_block_and_the_whole_model_are_verified_against_the_original_graph(converted):
    _, manifest, _ = converted
    blocks = _blocks(manifest)
    assert sorted(blocks) == sorted(SIZES)
    for scope, (length, size, vec, inp) in SIZES.items():
        wrapper = blocks[scope]["wrapper"]
        assert (wrapper["attn_length"], wrapper["attn_size"], wrapper["attn_vec_size"], wrapper["input_size"]) == (
            length, size, vec, inp)
    assert blocks["attc"]["outputs"] == ["outputs", "state/c", "state/m", "state/attns", "state/window"]
    for target, backends in (("keras3", {"tensorflow", "jax"}), ("onnx", {"onnxruntime"})):
        entry = manifest["targets"][target]
        assert entry["model"]["file"] and not entry["not_exported"], entry
        assert {b["name"] for b in entry["blocks"]} == {b["name"] for b in manifest["blocks"]}
        whats = {f"block {b['name']}" for b in blocks.values()} | {"whole model"}
        checks = [c for c in entry["verification"]["checks"] if c["what"] in whats]
        assert {c["what"] for c in checks} == whats
        assert {c["backend"] for c in checks} == backends
        assert all(c["reference"] == "original-graph" and c["max_abs_diff"] <= TOL for c in checks), checks
        per_block = [c for c in checks if c["what"] == f"block {blocks['atta']['name']}"]
        assert len(per_block) == 5 * len(backends)  # outputs, c, h, attns, window


def _keras3_blocks(out: str, manifest: dict, x: np.ndarray, mutate=None) -> dict[str, list[np.ndarray]]:
    """Each block's Keras 3 file loaded as a user loads it (safe mode, rnn-migrate's layers registered first)."""
    import keras

    import migration.targets.keras3_cells  # noqa: F401
    import migration.targets.keras3_wrappers  # noqa: F401

    outs = {}
    for scope, block in _blocks(manifest).items():
        (entry,) = [b for b in manifest["targets"]["keras3"]["blocks"] if b["name"] == block["name"]]
        model = keras.saving.load_model(os.path.join(out, entry["file"]), safe_mode=True)
        if mutate is not None:
            mutate(scope, model)
        outs[scope] = [np.asarray(o) for o in model([x, RAGGED], training=False)]
    return outs


def _onnx_blocks(out: str, manifest: dict, x: np.ndarray, mutate=None) -> dict[str, list[np.ndarray]]:
    import onnx
    import onnxruntime as ort

    outs = {}
    for scope, block in _blocks(manifest).items():
        (entry,) = [b for b in manifest["targets"]["onnx"]["blocks"] if b["name"] == block["name"]]
        model = onnx.load(os.path.join(out, entry["file"]))
        if mutate is not None:
            mutate(scope, model)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outs[scope] = sess.run(None, {"x": x, "sequence_length": RAGGED})
    return outs


def _diff(got: dict, recorded: dict) -> dict[str, float]:
    return {scope: max(float(np.abs(np.asarray(g) - r).max()) for g, r in zip(got[scope], recorded["blocks"][scope]))
            for scope in SIZES}


def test_the_block_files_equal_the_recorded_session(converted):
    out, manifest, recorded = converted
    for scope in SIZES:
        assert len(recorded["blocks"][scope]) == len(_blocks(manifest)[scope]["outputs"])
        assert not recorded["blocks"][scope][0][1, 1:].any()  # zeros past a length
    x = recorded["feeds"]["x"]
    for got in (_keras3_blocks(out, manifest, x), _onnx_blocks(out, manifest, x)):
        assert all(len(got[s]) == len(recorded["blocks"][s]) for s in SIZES)
        assert max(_diff(got, recorded).values()) <= TOL, _diff(got, recorded)


def _swap_query_rows(kernel: np.ndarray, first: int) -> np.ndarray:
    """The query kernel's two state row blocks swapped back (Keras ``[h, c]`` -> TF1 ``c, h``)."""
    return np.concatenate([kernel[first:], kernel[:first]], 0)


def test_query_rows_in_tf1_state_order_fail_on_each_target(converted):
    """The attention query reads concat(new state): TF1 flattens an LSTM state as (c, h), the Keras cells keep
    [h, c]. The converter swaps the query kernel's row blocks; left in TF1's order (the LSTM blocks a and c), both
    targets move > 1e-3 from the session, the GRU block (one state) stays exact."""
    from onnx import numpy_helper

    out, manifest, recorded = converted
    first = {"atta": 4, "attc": 2}  # the width of the Keras first state (h / m)

    def keras3_swap(scope, model):
        if scope in first:
            (layer,) = [l for l in model.layers if type(getattr(l, "cell", None)).__name__ == "AttentionCell"]
            kernel, bias = layer.cell.query.get_weights()
            layer.cell.query.set_weights([_swap_query_rows(kernel, first[scope]), bias])

    def onnx_swap(scope, model):
        if scope in first:
            body = next(n for n in model.graph.node if n.op_type == "Scan").attribute[0].g
            rows = {"atta": 8, "attc": 5}[scope]  # the query kernel: [S, V] with S the cell's state width
            (init,) = [i for i in body.initializer if numpy_helper.to_array(i).shape == (rows, SIZES[scope][2])]
            init.CopyFrom(numpy_helper.from_array(_swap_query_rows(numpy_helper.to_array(init), first[scope]),
                                                  init.name))

    for got in (_keras3_blocks(out, manifest, recorded["feeds"]["x"], keras3_swap),
                _onnx_blocks(out, manifest, recorded["feeds"]["x"], onnx_swap)):
        diff = _diff(got, recorded)
        assert diff["atta"] > 1e-3 and diff["attc"] > 1e-3 and diff["attb"] <= TOL, diff


def test_the_attention_cell_module_imports_only_keras():
    """The JAX check's isolated child process (``python -I``) loads keras3_wrappers.py by its file path."""
    import ast
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "migration" / "targets" / "keras3_wrappers.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "keras"}, imported


def test_the_docs_hold_the_wrapper_rows():
    """docs/targets.md, "Per wrapper": the rows migration.targets.table.wrapper_table generates (regenerate with
    ``python -m migration.targets.table``), one per tf.contrib.rnn wrapper with weights, each target answered."""
    from pathlib import Path

    from migration.targets import EXPORT_TARGETS
    from migration.targets.table import wrapper_table
    from migration.targets.wrapper_support import WRAPPERS

    text = (Path(__file__).resolve().parents[2] / "docs" / "targets.md").read_text(encoding="utf-8")
    table = text.split("<!-- wrappers-table:start -->\n")[1].split("<!-- wrappers-table:end -->")[0]
    assert table.splitlines() == wrapper_table()
    assert all(answers[t].startswith("exact") for _, _, answers in WRAPPERS for t in EXPORT_TARGETS)
