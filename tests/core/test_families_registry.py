"""The family registry (issue 19): every row is complete, every row's two cells compute the same thing through the
row's own converter, and kind strings are compared only in family modules (a ratchet on what is left elsewhere).

The conformance test is one grid over the registry: a family joins it by being registered. Each row's legacy cell
(the real TF1 graph object) runs on seeded asymmetric weights with non-zero biases; the row's converter moves them to
the row's Keras 2 cell, which must give the same outputs and final state; a negative control (the converted arrays
reversed) must not.
"""
from __future__ import annotations

import ast
import importlib
import pathlib

import numpy as np
import pytest

from migration import families
from migration.core.specs import CellSpec

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROWS = families.families()


@pytest.mark.parametrize("row", ROWS, ids=[r.kind for r in ROWS])
def test_every_row_is_complete(row):
    assert row.description and row.scope
    assert row.kind == "handwritten" or row.tf1_classes, "the TF1 class names"
    assert all(c.startswith("tf.") for c in row.tf1_classes)
    assert set(row.not_in_checkpoint) <= set(row.hyper)
    # a recognizer: its own layouts, or another row's that the checkpoint shares
    assert row.layouts or (row.recognized_through and families.family(row.recognized_through).layouts)
    for layout in row.layouts:
        assert layout.required and set(layout.renames) <= set(layout.required + layout.optional)
    # converters both ways and both builders (the builders resolve to real functions)
    for fn in (row.converter.tf1_names, row.converter.keras_names, row.converter.to_keras, row.converter.to_tf1,
               row.converter.tf1_shapes):
        assert callable(fn)
    assert set(row.targets) == set(families.TARGETS)
    for builder in (row.legacy, *row.targets.values()):
        module, name = builder.target.split(":")
        assert callable(getattr(importlib.import_module(module), name))
    for target in row.keras_classes:
        module, name = target.split(":")
        assert isinstance(getattr(importlib.import_module(module), name), type)
    for symbol, home in row.upgrade_homes.items():
        module, _, name = home.rpartition(".")
        assert symbol in row.tf1_classes and hasattr(importlib.import_module(module), name)
    spec = CellSpec(row.kind, 3, forget_bias=float(row.hyper.get("forget_bias", 1.0)))
    assert spec.tf1_scope == row.scope and (spec.is_lstm, spec.is_gru) == (row.lstm, row.gru)
    assert set(families.tf1_shapes(spec, 2)) == set(families.tf1_names_for(spec))


def test_upgrade_homes_come_from_the_rows():
    from migration.families.namespaces import namespace_homes

    def resolve(home: str):
        module, _, name = home.rpartition(".")
        return getattr(importlib.import_module(module), name)

    homes = families.upgrade_homes()
    rows = {s: h for r in ROWS for s, h in r.upgrade_homes.items()}
    assert homes["tf.contrib.rnn.UGRNNCell"] == rows["tf.contrib.rnn.UGRNNCell"] == "legacy_rnn.ugrnn.UGRNNCell"
    for symbol, home in rows.items():  # a namespace spelling of a row's class is the row's very class
        assert resolve(homes[symbol]) is resolve(home), (symbol, homes[symbol], home)
    assert set(homes) == set(rows) | set(namespace_homes())  # nothing else: the namespaces no row owns


def _legacy_run(row, spec, x, seed):
    """(outputs, flat final state, TF1 arrays by name) of the row's legacy cell over ``x`` (dynamic_rnn)."""
    import legacy_rnn
    from legacy_rnn import tf, v1

    with legacy_rnn.new_graph(seed) as graph:
        cell = families.legacy_cell(spec, input_size=x.shape[-1], scope="rnn/rnn_cell")
        if row.kind == "handwritten":
            state, outs = tf.zeros([x.shape[0], spec.units]), []
            for t in range(x.shape[1]):
                state = cell(tf.constant(x[:, t]), state)
                outs.append(state)
            out, final = tf.stack(outs, 1), state
        else:
            out, final = v1.nn.dynamic_rnn(cell, tf.constant(x), dtype=tf.float32, scope="rnn")
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            rng = np.random.default_rng(seed)
            arrays = {}
            for var in v1.global_variables():
                value = rng.uniform(-0.7, 0.7, var.shape).astype(np.float32)  # biases too: non-zero, asymmetric
                var.load(value, sess)
                arrays[var.op.name.split("/", 2)[2]] = value
            got = sess.run([out, tf.nest.flatten(final)])
    renames = {}
    for layout in row.layouts:  # older spellings read as this row's own kind (not another row's arrays)
        if layout.recognized_as is None:
            renames.update(layout.renames)
    return got[0], got[1], {renames.get(k, k): v for k, v in arrays.items()}


def _keras_run(spec, x, weights):
    from modern_rnn import keras, tf

    layer = keras.layers.RNN(families.keras_cell(spec, x.shape[-1]), return_sequences=True, return_state=True)
    layer(tf.constant(x))
    layer.cell.set_weights(weights)
    out, *state = layer(tf.constant(x))
    return np.asarray(out), [np.asarray(s) for s in state]


CONFORMANCE = [r for r in ROWS if r.kind != "lstm_block_fused"]  # not an RNNCell: tests/checkpoint covers it


@pytest.mark.parametrize("row", CONFORMANCE, ids=[r.kind for r in CONFORMANCE])
def test_every_row_converts_its_legacy_cell_into_its_keras_cell(row):
    spec = CellSpec(row.kind, 4, forget_bias=0.0 if row.kind == "cudnn_compatible_lstm" else 0.5)
    x = np.random.default_rng(5).normal(0, 1, (3, 4, 3)).astype(np.float32)
    out, state, arrays = _legacy_run(row, spec, x, seed=17)
    weights = families.cell_to_keras(spec, arrays, 3)
    k_out, k_state = _keras_run(spec, x, weights)
    np.testing.assert_allclose(k_out, out, atol=1e-5)
    tf1_order = (k_state[1], k_state[0]) if spec.is_lstm else k_state  # Keras [h, c]; TF1 (c, h)
    for a, b in zip(tf1_order, state):
        np.testing.assert_allclose(a, b, atol=1e-5)
    wrong = [w[..., ::-1].copy() for w in weights]  # negative control: the converter's layout matters
    assert np.max(np.abs(_keras_run(spec, x, wrong)[0] - out)) > 1e-3
    back = families.cell_to_tf1(spec, weights)
    for name, value in back.items():
        np.testing.assert_allclose(value, arrays[name], atol=1e-6)


def test_lstm_block_fused_has_no_rnncell_and_says_so():
    with pytest.raises(ValueError, match="not an RNNCell"):
        families.legacy_cell(CellSpec("lstm_block_fused", 3))


#: kind-string comparisons still outside migration/families (file -> count): to be moved into family rows (issue
#: 19). The test fails when one appears anywhere else or a count grows. cudnn mode strings ('lstm'/'gru' of a cuDNN
#: opaque buffer) and the core's own CellSpec validation of LSTMCell-only options are not family dispatch.
REMAINING = {"migration/checkpoint/blocks.py": 1,
             "migration/checkpoint/seq2seq.py": 2,
             "migration/checkpoint/seq2seq_legacy.py": 2, "migration/core/specs.py": 3,
             "migration/cudnn_converters.py": 1, "migration/seq2seq_converters.py": 6,
             "legacy_rnn/cells.py": 10, "modern_rnn/cells.py": 6}


def _kind_comparisons() -> dict[str, int]:
    kinds = {r.kind for r in ROWS}
    found: dict[str, int] = {}

    def strings(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [s for e in node.elts for s in strings(e)]
        return []

    for package in ("migration", "legacy_rnn", "modern_rnn"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            # migration/examples/: the seed programs (top layer, teaching code that builds each document's own
            # models by name), not the migration machinery this ratchet is about
            if rel.startswith(("migration/families/", "migration/examples/")):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Compare) and any(
                        s in kinds for part in (node.left, *node.comparators) for s in strings(part)):
                    found[rel] = found.get(rel, 0) + 1
    return found


def test_kind_strings_are_compared_only_in_family_modules():
    found = _kind_comparisons()
    grown = {f: n for f, n in found.items() if n > REMAINING.get(f, 0)}
    assert not grown, f"kind strings compared outside migration/families: {grown}; ask the family row instead"


def test_variable_accounting_is_a_raised_error_not_an_assert():
    """Regression (issue 19): the guarantee held only under ``python -O``-fragile ``assert``; now it raises."""
    from migration.checkpoint.reader import VariableInfo
    from migration.checkpoint.recognize import AccountingError, check_accounting

    variables = {"a": VariableInfo("a", (2,), "float32"), "b": VariableInfo("b", (2,), "float32")}
    check_accounting(["a"], ["b"], variables)  # each exactly once: fine
    for consumed, rejected, word in ((["a"], [], "'b'"), (["a", "b"], ["b"], "twice"), (["a", "b", "c"], [], "'c'")):
        with pytest.raises(AccountingError, match=word):
            check_accounting(consumed, rejected, variables)
