"""legacy_rnn.seq2seq and modern_rnn.seq2seq read side by side: same names, same order, docstrings naming the twin."""
from __future__ import annotations

import inspect

import pytest

from legacy_rnn import seq2seq as legacy
from legacy_rnn.seq2seq import legacy_seq2seq as legacy_ls
from modern_rnn import seq2seq as modern
from modern_rnn.seq2seq import legacy_seq2seq as modern_ls

CONTRIB_NAMES = ("BahdanauAttention", "LuongAttention", "AttentionWrapper", "AttentionWrapperState", "BasicDecoder",
                 "TrainingHelper", "GreedyEmbeddingHelper", "dynamic_decode", "BeamSearchDecoder", "tile_batch",
                 "sequence_loss")
LEGACY_NAMES = ("rnn_decoder", "basic_rnn_seq2seq", "tied_rnn_seq2seq", "embedding_rnn_decoder",
                "embedding_rnn_seq2seq", "attention_decoder", "embedding_attention_decoder",
                "embedding_attention_seq2seq", "sequence_loss", "sequence_loss_by_example")


def test_the_layout_contract_names_exist() -> None:
    assert set(CONTRIB_NAMES) <= set(legacy.TWINS)
    assert all(callable(getattr(legacy_ls, n)) for n in LEGACY_NAMES)
    assert legacy.TWINS == modern.TWINS


def _public_functions(module) -> list[str]:
    names = [n for n, f in inspect.getmembers(module, inspect.isfunction)
             if not n.startswith("_") and f.__module__ == module.__name__]
    return sorted(names, key=lambda n: inspect.getsourcelines(getattr(module, n))[1])


def test_legacy_seq2seq_functions_in_the_same_order() -> None:
    legacy_twins = [n for n in _public_functions(legacy_ls) if n not in legacy_ls.LEGACY_ONLY]
    assert legacy_twins == _public_functions(modern_ls)
    assert set(legacy_ls.LEGACY_ONLY) <= set(_public_functions(legacy_ls))
    assert set(LEGACY_NAMES) <= set(_public_functions(legacy_ls))


@pytest.mark.parametrize("module,name", [("contrib", n) for n in legacy.TWINS]
                         + [("legacy_seq2seq", n) for n in LEGACY_NAMES])
def test_docstrings_name_the_twin_and_leading_parameters_agree(module: str, name: str) -> None:
    old, new = (legacy, modern) if module == "contrib" else (legacy_ls, modern_ls)
    old_obj, new_obj = getattr(old, name), getattr(new, name)
    old_doc, new_doc = inspect.getdoc(old_obj) or "", inspect.getdoc(new_obj) or ""
    assert "Modern equivalent" in old_doc and name in old_doc.split("Modern equivalent", 1)[1]
    assert "Legacy equivalent" in new_doc and name in new_doc.split("Legacy equivalent", 1)[1]
    if inspect.isfunction(old_obj):
        old_params, new_params = list(inspect.signature(old_obj).parameters), list(inspect.signature(new_obj).parameters)
        shared = min(3, len(old_params), len(new_params))
        assert old_params[:shared] == new_params[:shared]


def test_contrib_signatures_match_tf_1_15() -> None:
    """Spot-check exact TF 1.15 signatures of the legacy side (programs call them positionally)."""
    sig = lambda f: list(inspect.signature(f).parameters)  # noqa: E731
    assert sig(legacy.BahdanauAttention.__init__)[1:] == ["num_units", "memory", "memory_sequence_length", "normalize",
                                                          "probability_fn", "score_mask_value", "dtype",
                                                          "custom_key_value_fn", "name"]
    assert sig(legacy.AttentionWrapper.__init__)[1:] == ["cell", "attention_mechanism", "attention_layer_size",
                                                         "alignment_history", "cell_input_fn", "output_attention",
                                                         "initial_cell_state", "name", "attention_layer",
                                                         "attention_fn"]
    assert sig(legacy.BeamSearchDecoder.__init__)[1:] == ["cell", "embedding", "start_tokens", "end_token",
                                                          "initial_state", "beam_width", "output_layer",
                                                          "length_penalty_weight", "coverage_penalty_weight",
                                                          "reorder_tensor_arrays"]
    assert sig(legacy_ls.embedding_attention_seq2seq) == [
        "encoder_inputs", "decoder_inputs", "cell", "num_encoder_symbols", "num_decoder_symbols", "embedding_size",
        "num_heads", "output_projection", "feed_previous", "dtype", "scope", "initial_state_attention"]


@pytest.mark.parametrize("module,name", [(legacy, "BeamSearchDecoderV2")])
def test_names_not_rebuilt_fail_with_a_clear_message(module, name: str) -> None:
    assert name in module.NOT_REBUILT and not set(module.NOT_REBUILT) & set(dir(module))
    with pytest.raises(AttributeError, match="not rebuilt .*by hand"):
        getattr(module, name)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        getattr(module, "nope")
