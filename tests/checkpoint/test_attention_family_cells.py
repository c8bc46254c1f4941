"""``AttentionCellWrapper`` around a family row's cell outside the core kinds (``tf.contrib.rnn.UGRNNCell``, a single
state tensor; ``CoupledInputForgetGateLSTMCell``, an ``LSTMStateTuple`` whose query rows are permuted c,h -> h,c):
the wrapper's converter takes the cell's converter from the family registry, so the checkpoint converts (it stopped
with "No converter for cell kind 'ugrnn'" before). Each program: dynamic_rnn over the wrapper, a sequence_length
placeholder, a dense head, seeded asymmetric weights and non-zero biases, a Saver checkpoint with its .meta
(``test_attention_convert._program`` with the family's cell).

Checks: convert's own verification against the ORIGINAL graph; independently, the written block file (safe mode)
reproduces the program's own session outputs; the export direction inverts the conversion array for array.
Controls: the core converter alone refuses the cell naming its kind; the query kernel's rows left in TF1's state
order fail verification for the LSTM-state cell.
"""
from __future__ import annotations

import numpy as np
import pytest

from legacy_rnn import tf
from legacy_rnn.contrib_rnn import CoupledInputForgetGateLSTMCell, UGRNNCell
from migration import converters, families
from migration.core.errors import UnknownCellError
from tests.checkpoint.test_attention_convert import LENGTHS, _program

CELLS = {"ugrnn": lambda: UGRNNCell(5), "cifg_lstm": lambda: CoupledInputForgetGateLSTMCell(4)}


def _wrapper_arrays(prefix: str, block: dict) -> dict:
    """The checkpoint's arrays under the block's scope ``.../attention_cell_wrapper/`` (TensorFlow's own reader)."""
    reader = tf.train.load_checkpoint(prefix)
    base = f"{block['scope']}/"
    return {k[len(base):]: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k.startswith(base)}


@pytest.fixture(scope="module", params=sorted(CELLS))
def converted(request, tmp_path_factory):
    from migration.checkpoint.convert import convert_checkpoint

    root = tmp_path_factory.mktemp(f"attention_{request.param}")
    prefix, x, expected = _program(root, cell=CELLS[request.param])
    result = convert_checkpoint(prefix, root / "out")
    return request.param, prefix, x, expected, result, root


def test_converts_and_verifies_against_the_original_graph(converted) -> None:
    kind, _, _, _, result, _ = converted
    assert result.ok, result.verification
    (block,) = result.manifest["blocks"]
    assert block["cells"][0]["spec"]["kind"] == kind and "AttentionCellWrapper" in block["describe"]
    checks = [c for c in result.verification["checks"] if c["what"].startswith("block")]
    assert len(checks) >= 3 and all(c["reference"] == "original-graph" and c["max_abs_diff"] <= 1e-5
                                    for c in checks), checks


def test_the_block_file_reproduces_the_programs_session(converted) -> None:
    from migration.safe_io import load_block_model

    _, _, x, expected, result, root = converted
    (block,) = result.manifest["blocks"]
    model = load_block_model(root / "out", block["file"])
    got = [np.asarray(t) for t in model([x, LENGTHS])]
    outputs = got[0] * (np.arange(x.shape[1])[None, :, None] < LENGTHS[:, None, None])  # dynamic_rnn's zeros
    assert np.max(np.abs(outputs - expected[0])) <= 1e-5
    assert len(got) == len(expected)
    for a, b in zip(got[1:], expected[1:]):
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1e-5


def test_export_inverts_the_conversion(converted) -> None:
    from migration.core.specs import CellSpec
    from migration.wrapper_converters import attention_cell_wrapper_to_keras, attention_cell_wrapper_to_tf1

    _, prefix, _, _, result, _ = converted
    (block,) = result.manifest["blocks"]
    spec = CellSpec.from_dict(block["cells"][0]["spec"])
    arrays = _wrapper_arrays(prefix, block)
    parts = attention_cell_wrapper_to_keras(spec, arrays, block["input_size"], families.cell_to_keras)
    back = attention_cell_wrapper_to_tf1(spec, parts, families.cell_to_tf1)
    assert sorted(back) == sorted(arrays)
    # exact but for the forget_bias folded in and taken out again in float32 ((b + 1) - 1 rounds)
    diffs = {k: float(np.max(np.abs(back[k] - arrays[k]))) for k in arrays}
    assert all(back[k].shape == arrays[k].shape for k in arrays) and max(diffs.values()) <= 1e-6, diffs


def test_the_core_converter_alone_refuses_the_cell(converted) -> None:
    """Control: without the family registry's converter the wrapper cannot convert the cell (the old behaviour)."""
    from migration.core.specs import CellSpec
    from migration.wrapper_converters import attention_cell_wrapper_to_keras

    kind, prefix, _, _, result, _ = converted
    (block,) = result.manifest["blocks"]
    spec = CellSpec.from_dict(block["cells"][0]["spec"])
    arrays = _wrapper_arrays(prefix, block)
    with pytest.raises(UnknownCellError, match=kind):
        attention_cell_wrapper_to_keras(spec, arrays, block["input_size"], converters.cell_to_keras)


@pytest.mark.parametrize("converted", ["cifg_lstm"], indirect=True)
def test_query_rows_in_tf1_order_fail_for_an_lstm_state(converted, tmp_path, monkeypatch) -> None:
    """Negative control: the (c, h) -> (h, c) row permutation is load-bearing for the LSTM-state family cell."""
    from migration import wrapper_converters
    from migration.checkpoint.convert import convert_checkpoint

    kind, prefix, *_ = converted
    assert kind == "cifg_lstm"
    monkeypatch.setattr(wrapper_converters, "query_rows_to_keras", lambda kernel, spec: np.asarray(kernel))
    result = convert_checkpoint(prefix, tmp_path / "out")
    assert not result.ok
