"""Ground truth: conversions are verified against the user's ORIGINAL graph, and whole models are built from it.

The programs (``ground_truth_graphs``) hide their hyper-parameters where a reader of the ``.meta`` used to miss them
(op name scopes that differ from variable scopes, a re-entered variable scope, ``LSTMBlockCell`` attributes). The
independent reference in these tests is the original program itself, run the way its author would: the ``.meta``
imported with ``import_meta_graph``, restored with ``Saver``, dropout fed off.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import tf, v1

import ground_truth_graphs as g
from ground_truth_graphs import run_original_program
from conftest import build_partitioned, build_seed002, build_seed004, copy_checkpoint, run_cli

CASES = {  # name -> (builder, expected forget_bias)
    "ptb_tf1_form": (lambda d: g.build_ptb(d, tf1_form=True), 0.0),
    "ptb_tf2_form": (lambda d: g.build_ptb(d, tf1_form=False), 0.0),
    "reentered": (g.build_reentered, 0.5),
    "block_lstm": (g.build_block_lstm, 0.0),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ground_truth")
    cache: dict = {}

    def get(name: str) -> str:
        if name not in cache:
            builders = {**{k: v[0] for k, v in CASES.items()}, "unknown_op": g.build_unknown_op,
                        "bidirectional": g.build_bidirectional, "ema": g.build_ema,
                        "seed004": lambda d: build_seed004(d),
                        "partitioned_mod": lambda d: build_partitioned(d, "mod"),
                        "partitioned_div": lambda d: build_partitioned(d, "div"), "seed002_static": lambda d: build_seed002(d, False),
                        "seed002_handwritten": lambda d: build_seed002(d, True)}
            cache[name] = builders[name](root / name)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def converted(built, tmp_path_factory):
    root = tmp_path_factory.mktemp("gt_converted")
    cache: dict = {}

    def get(name: str, *flags: str):
        key = (name, flags)
        if key not in cache:
            out = root / (name + "".join(f.strip("-").replace("-", "_").replace(".", "") for f in flags))
            cache[key] = (run_cli("convert", built(name), out, "--quiet", *flags), str(out))
        return cache[key]

    return get


def manifest(out: str) -> dict:
    with open(os.path.join(out, "manifest.json")) as f:
        return json.load(f)


def load(path: str):
    import modern_rnn  # noqa: F401
    from modern_rnn import keras

    return keras.models.load_model(path, compile=False, safe_mode=True)


def call(model, inputs: list):
    out = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


# -- hyper-parameters where TF1 put them ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_hyperparameters_are_read_where_tf1_put_them(built, name):
    from migration.checkpoint.recognize import inspect_checkpoint

    insp = inspect_checkpoint(built(name))
    cells = [c for b in insp.blocks for c in b.cells]
    assert cells and all(c.spec.forget_bias == CASES[name][1] for c in cells), [c.spec for c in cells]
    assert all(c.hyper_sources["forget_bias"] == "meta" for c in cells)
    if name == "block_lstm":
        assert cells[0].spec.cell_clip == pytest.approx(0.9)  # the LSTMBlockCell op's cell_clip attribute


# -- the correct conversion passes against the original graph ---------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_correct_conversion_is_verified_against_the_original_graph(built, converted, name):
    code, out = converted(name)
    assert code == 0
    m = manifest(out)
    refs = m["verification"]["references"]
    assert refs and set(refs.values()) == {"original-graph"}, refs
    assert "whole model" in refs and m["model"]["file"] == "model.keras"
    # the whole model on the recorded inputs equals what the original program computed (recorded by its session)
    ins, outs, names = g.reference(built(name))
    model = load(os.path.join(out, "model.keras"))
    inputs = [ins[n] for n in m["model"]["inputs"]]
    got = call(model, inputs)
    expected = run_original_program(built(name), m["model"]["outputs"], dict(zip(m["model"]["inputs"], inputs)))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)
    if "logits" in outs:  # the loss's logits
        assert m["model"]["outputs"] == [names["logits"]]
        np.testing.assert_allclose(got[0], outs["logits"], atol=1e-5)
    else:  # no loss: the logits under the terminal softmax (issue 21), not the probabilities
        assert m["model"]["outputs"] != [names["probs"]] and len(m["model"]["outputs"]) == 1
        probs = np.exp(got[0] - got[0].max(-1, keepdims=True))
        np.testing.assert_allclose(probs / probs.sum(-1, keepdims=True), outs["probs"], atol=1e-5)


# -- regression: the rebuilt check cannot see a misread hyper-parameter; the original graph can -------------------

@pytest.mark.parametrize("name", list(CASES))
def test_rebuilt_check_misses_a_wrong_forget_bias_that_the_original_graph_catches(built, converted, tmp_path, name):
    code, out = converted(name, "--forget-bias", "1.0", "--no-verify")  # the old misreading of forget_bias
    assert code == 0
    prefix = built(name)
    ins, outs, _ = g.reference(prefix)
    if "rnn_outputs" in outs:  # the wrong block really differs from the program
        block = load(os.path.join(out, manifest(out)["blocks"][0]["file"]))
        x = ins["rnn_input"]
        lengths = ins.get("lengths", np.full(len(x), x.shape[1], np.int32))
        assert np.max(np.abs(call(block, [x, lengths])[0] - outs["rnn_outputs"])) > 1e-2
    # without the .meta only the rebuilt check is possible: it shares the misreading and passes
    bare = copy_checkpoint(prefix, tmp_path / "bare", with_meta=False)
    assert run_cli("verify", bare, out, "--json") == 0
    # with the .meta, the original graph is the reference: the wrong conversion fails
    assert run_cli("verify", prefix, out) == 1


def test_variables_under_an_rnn_scope_that_match_no_cell_do_not_abort(built, converted):
    """char-rnn's ``rnnlm/softmax_w``/``softmax_b`` become a dense head; ``rnnlm/temperature`` is listed, not fatal."""
    code, out = converted("reentered")
    assert code == 0
    m = manifest(out)
    assert [d["name"] for d in m["dense"]] == ["rnnlm/softmax"]
    assert m["dense"][0]["kernel"] == "rnnlm/softmax_w" and m["dense"][0]["bias"] == "rnnlm/softmax_b"
    (left,) = m["unrecognized"]
    assert left["name"] == "rnnlm/temperature" and not left["rnn_like"]


def test_cli_never_says_verified_for_a_rebuilt_reference(built, tmp_path, capsys):
    bare = copy_checkpoint(built("reentered"), tmp_path / "bare", with_meta=False)
    assert run_cli("convert", bare, tmp_path / "out") == 0
    text = capsys.readouterr().out
    assert "rebuilt" in text and "weaker" in text and "verified against the original graph" not in text
    assert "assumed (TF1 default, not in the .meta)" in text and "forget_bias=1.0" in text
    assert run_cli("convert", built("reentered"), tmp_path / "out2") == 0
    assert "verified against the original graph" in capsys.readouterr().out


# -- negative controls: a wrong gate order or forget_bias in the Keras model is caught on every reference path -----

def _swap_lstm_gates(weights: list[np.ndarray]) -> list[np.ndarray]:
    """Keras LSTM kernels are i,f,c,o: swap f and c (the conversion's classic mistake) in every kernel and bias."""
    out = []
    for w in weights:
        if w.shape[-1] % 4 == 0 and w.ndim in (1, 2):
            i, f, c, o = np.split(w, 4, axis=-1)
            w = np.concatenate([i, c, f, o], axis=-1)
        out.append(w)
    return out


def _tamper(path: str, fn) -> None:
    model = load(path)
    model.set_weights(fn(model.get_weights()))
    os.remove(path)
    model.save(path)


@pytest.mark.parametrize("name,what", [
    ("ptb_tf1_form", "block"), ("ptb_tf2_form", "block"), ("block_lstm", "block"), ("reentered", "model"),
    ("bidirectional", "block"),
])
def test_original_graph_check_catches_a_wrong_conversion(built, converted, tmp_path, name, what):
    code, out = converted(name)
    assert code == 0
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    m = manifest(str(bad))
    if name == "bidirectional":  # GRU: Keras z,r,h -> swap z and r
        def fn(ws):
            return [np.concatenate([np.split(w, 3, -1)[1], np.split(w, 3, -1)[0], np.split(w, 3, -1)[2]], -1)
                    if w.shape[-1] in (12, 15) else w for w in ws]
    elif name == "block_lstm":  # forget_bias not folded: b_f - 0 + 1 would be the old reading; add it
        def fn(ws):
            return [w + np.concatenate([np.zeros(6), np.ones(6), np.zeros(12)]).astype(np.float32)
                    if w.shape == (24,) else w for w in ws]
    else:
        fn = _swap_lstm_gates
    target = m["model"]["file"] if what == "model" else m["blocks"][0]["file"]
    _tamper(str(bad / target), fn)
    from migration.checkpoint.verify import verify_conversion

    report = verify_conversion(built(name), str(bad))
    assert not report.ok
    failing = [c for c in report.checks if c.max_abs_diff > report.tolerance]
    assert failing and {c.reference for c in failing} == {"original-graph"}
    if what == "model":
        assert {c.what for c in failing} == {"whole model"}


def test_time_major_bidirectional_block_checked_against_the_original_graph(built, converted):
    code, out = converted("bidirectional")
    assert code == 0
    refs = manifest(out)["verification"]["references"]
    assert refs == {"block bidirectional_rnn": "original-graph", "whole model": "original-graph"}


# -- whole models from the seeds' graphs --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["seed004", "seed002_static", "seed002_handwritten"])
def test_whole_model_of_a_seed_graph_equals_the_original_program(built, converted, name):
    code, out = converted(name)
    assert code == 0
    m = manifest(out)["model"]
    assert m is not None and m["outputs_from"] == "the logits the loss consumes"
    if name.startswith("seed002"):
        assert len(m["outputs"]) == g.T  # one softmax head per unrolled step
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 20 if name == "seed004" else 2, (4, g.T)).astype(np.int32)
    got = call(load(os.path.join(out, "model.keras")), [ids])
    expected = run_original_program(built(name), m["outputs"], {m["inputs"][0]: ids})
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert manifest(out)["verification"]["references"]["whole model"] == "original-graph"


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_whole_model_with_a_partitioned_embedding(built, converted, strategy):
    """fixed_size_partitioner(3) + embedding_lookup(partition_strategy=...): the Keras Embedding reproduces every id."""
    code, out = converted(f"partitioned_{strategy}")
    assert code == 0
    m = manifest(out)["model"]
    assert m is not None and any(f"'{strategy}' lookup" in p for p in m["pieces"]), m
    ids = np.arange(12, dtype=np.int32).reshape(2, 6) % 10  # every row of the 10-row embedding
    got = call(load(os.path.join(out, "model.keras")), [ids])
    expected = run_original_program(built(f"partitioned_{strategy}"), m["outputs"], {m["inputs"][0]: ids})
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_unrecognized_op_on_the_path_writes_no_model_and_names_it(built, converted):
    code, out = converted("unknown_op")
    assert code == 2  # no model.keras (issue 21: the exit code says so); the blocks are still converted
    m = manifest(out)
    assert m["model"] is None and not os.path.exists(os.path.join(out, "model.keras"))
    assert any("Cumsum" in n and "Cumsum'" in n or "(Cumsum)" in n for n in m["notes"]), m["notes"]
    assert m["blocks"] and os.path.exists(os.path.join(out, m["blocks"][0]["file"]))


def test_use_ema_converts_the_averaged_weights_and_verifies_them_against_the_original_graph(built, converted):
    prefix = built("ema")
    ins, outs, _ = g.reference(prefix)
    code, out = converted("ema")  # without --use-ema: the raw weights; every shadow listed, none dropped silently
    assert code == 0
    m = manifest(out)
    assert m["ema"] == {"used": False, "shadows": {}}
    assert {u["name"] for u in m["unrecognized"]} >= {"rnn/gru_cell/gates/kernel/ExponentialMovingAverage",
                                                       "head/kernel/ExponentialMovingAverage"}
    raw = call(load(os.path.join(out, "model.keras")), [ins["x"]])[0]
    assert np.max(np.abs(raw - outs["averaged"])) > 1e-2
    code, out = converted("ema", "--use-ema")
    assert code == 0
    m = manifest(out)
    assert m["ema"]["used"] and m["ema"]["shadows"]["head/kernel"] == "head/kernel/ExponentialMovingAverage"
    assert set(m["verification"]["references"].values()) == {"original-graph"}  # the graph fed the shadows
    averaged = call(load(os.path.join(out, "model.keras")), [ins["x"]])[0]
    np.testing.assert_allclose(averaged, outs["averaged"], atol=1e-5)  # = TF1's Saver(ema.variables_to_restore())


def test_outputs_option_chooses_the_model_outputs(built, tmp_path):
    prefix = built("reentered")
    _, _, names = g.reference(prefix)
    assert run_cli("convert", prefix, tmp_path / "o", "--outputs", names["probs"], "--quiet") == 0
    m = manifest(str(tmp_path / "o"))
    assert m["model"]["outputs"] == [names["probs"]] and m["model"]["inputs"] == ["ids", "lengths"]
    ins, outs, _ = g.reference(prefix)
    got = call(load(str(tmp_path / "o" / "model.keras")), [ins["ids"], ins["lengths"]])
    np.testing.assert_allclose(got[0], outs["probs"], atol=1e-5)
    assert run_cli("convert", prefix, tmp_path / "o2", "--outputs", "no/such:0") == 2
