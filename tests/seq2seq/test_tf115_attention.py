"""TF 1.15 conformance of the attention pieces issue 22 added: BahdanauMonotonicAttention, LuongMonotonicAttention
and AttentionWrapper with a list of mechanisms, attention_layer= and attention_fn=.

TF 1.15's attention_wrapper_test compared decoder outputs drawn from its random initialisers; here the variables get
seeded values, every decoder runs once in one graph, and the expected outputs come from a NumPy re-implementation of
the 1.15 equations in this file. Variable names are checked against 1.15's."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn
from legacy_rnn import seq2seq as s2s
from tests.core.harness import FAST_SESSION

tf, v1 = legacy_rnn.tf, legacy_rnn.v1
B, T, D, TM, M, U = 3, 3, 3, 5, 4, 4        # batch, decoder steps, input depth, memory steps/depth, cell units
RNG = np.random.default_rng(2215)
X = RNG.normal(0, 1, (B, T, D)).astype(np.float32)
MEM = RNG.normal(0, 1, (B, TM, M)).astype(np.float32)
MEM_LEN = np.array([5, 3, 4], np.int32)
MASK = np.arange(TM)[None] < MEM_LEN[:, None]


def _mechanisms(kind: str, memory):
    if kind == "bahdanau_monotonic":
        return s2s.BahdanauMonotonicAttention(4, memory, MEM_LEN, normalize=True, score_bias_init=-0.5,
                                              mode="parallel")
    if kind == "luong_monotonic":
        return s2s.LuongMonotonicAttention(U, memory, MEM_LEN, scale=True, score_bias_init=0.25, mode="recursive")
    if kind == "multi":
        return [s2s.BahdanauAttention(4, memory, MEM_LEN), s2s.LuongAttention(U, memory, MEM_LEN)]
    return [s2s.LuongAttention(U, memory, MEM_LEN)]


CONFIGS = {   # name -> (mechanisms, wrapper keyword arguments)
    "bahdanau_monotonic": {"attention_layer_size": 3},
    "luong_monotonic": {},
    "multi": {"attention_layer_size": [3, 2], "alignment_history": True},
    "layer_list": {"attention_layer": "a list of one Dense(2), made in the graph"},
}


@pytest.fixture(scope="module")
def run():
    with tf.Graph().as_default() as graph:
        init = v1.random_normal_initializer(0.0, 0.6, seed=3)
        memory = tf.constant(MEM)
        fetch, mechs, names = {}, {}, {}
        with v1.variable_scope("top", initializer=init):
            for name, kwargs in CONFIGS.items():
                mech = _mechanisms(name, memory)
                if "attention_layer" in kwargs:
                    kwargs = {"attention_layer": [v1.layers.Dense(2, use_bias=False, name="my_attention")]}
                cell = s2s.AttentionWrapper(v1.nn.rnn_cell.BasicRNNCell(U), mech, **kwargs)
                helper = s2s.TrainingHelper(tf.constant(X), tf.fill([B], T))
                out, state, _ = s2s.dynamic_decode(s2s.BasicDecoder(cell, helper, cell.zero_state(B, tf.float32)),
                                                   scope=name)
                fetch[name] = (out.rnn_output, state.alignments,
                               state.alignment_history[0].stack() if kwargs.get("alignment_history") else ())
                mechs[name] = mech if isinstance(mech, list) else [mech]
            zero_fn = lambda m, out, st, layer: (tf.zeros_like(out[:, :2]), m(out, st)[0], m(out, st)[1])  # noqa
            custom = s2s.AttentionWrapper(v1.nn.rnn_cell.BasicRNNCell(U), s2s.LuongAttention(U, memory, MEM_LEN),
                                          attention_layer_size=2, attention_fn=zero_fn)
            out, _, _ = s2s.dynamic_decode(s2s.BasicDecoder(custom, s2s.TrainingHelper(tf.constant(X), [T] * B),
                                                            custom.zero_state(B, tf.float32)), scope="custom")
            fetch["custom"] = out.rnn_output
        with v1.Session(graph=graph, config=FAST_SESSION) as sess:
            sess.run(v1.global_variables_initializer())
            values = sess.run(fetch)
            weights = {v.op.name: sess.run(v) for v in v1.global_variables()}
            memory_kernels = {name: [sess.run(m.memory_layer.kernel) for m in ms] for name, ms in mechs.items()}
    return values, weights, memory_kernels


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _monotonic(p, prev, mode):
    if mode == "parallel":   # 1.15's closed form (not the recursion): cumprod in log space, clipped divisor
        c = np.exp(np.cumsum(np.log(np.clip(1 - p, np.finfo(np.float32).tiny, 1)), 1))
        c = np.concatenate([np.ones((p.shape[0], 1)), c[:, :-1]], 1)
        return p * c * np.cumsum(prev / np.clip(c, 1e-10, 1), 1)
    q = np.zeros_like(p)
    for i in range(p.shape[1]):
        q[:, i] = prev[:, i] + ((1 - p[:, i - 1]) * q[:, i - 1] if i else 0)
    return p * q


def _score(kind, h, keys, w, pre):
    if kind.startswith("bahdanau"):
        v, pq = w[f"{pre}/attention_v"], h @ w[f"{pre}/query_layer/kernel"]
        if f"{pre}/attention_g" in w:
            v = w[f"{pre}/attention_g"] * v / np.sqrt((v ** 2).sum())
            return (v * np.tanh(keys + pq[:, None] + w[f"{pre}/attention_b"])).sum(2)
        return (v * np.tanh(keys + pq[:, None])).sum(2)
    score = np.einsum("bu,btu->bt", h, keys)
    return score * w[f"{pre}/attention_g"] if f"{pre}/attention_g" in w else score


def _reference(name, weights, memory_kernels):
    """The 1.15 AttentionWrapper decode (TrainingHelper, BasicRNNCell) in NumPy."""
    w = {k.split("/", 2)[2]: v for k, v in weights.items() if k.startswith(f"top/{name}/")}
    kinds = {"bahdanau_monotonic": ["bahdanau_monotonic"], "luong_monotonic": ["luong_monotonic"],
             "multi": ["bahdanau", "luong"], "layer_list": ["luong"]}[name]
    scopes = {"bahdanau_monotonic": "bahdanau_monotonic_attention", "luong_monotonic": "luong_monotonic_attention",
              "bahdanau": "bahdanau_attention", "luong": "luong_attention"}
    layers = {"bahdanau_monotonic": ["attention_layer"], "multi": ["attention_layer", "attention_layer_1"],
              "layer_list": ["my_attention"]}.get(name)
    values = MEM * MASK[:, :, None]
    keys = [values @ k for k in memory_kernels[name]]
    aligns = [np.eye(TM)[np.zeros(B, int)] if k.endswith("monotonic") else np.zeros((B, TM)) for k in kinds]
    sizes = [w[f"attention_wrapper/{layer}/kernel"].shape[1] for layer in layers] if layers else [M]
    h, att, outs = np.zeros((B, U)), np.zeros((B, sum(sizes))), []
    kernel, bias = w["attention_wrapper/basic_rnn_cell/kernel"], w["attention_wrapper/basic_rnn_cell/bias"]
    for t in range(T):
        h = np.tanh(np.concatenate([X[:, t], att, h], 1) @ kernel + bias)
        parts = []
        for i, kind in enumerate(kinds):
            pre = f"attention_wrapper/{scopes[kind]}"
            score = _score(kind, h, keys[i], w, pre)
            if kind.endswith("monotonic"):
                score = np.where(MASK, score + w[f"{pre}/attention_score_bias"], -np.inf)
                aligns[i] = _monotonic(_sigmoid(score), aligns[i], "parallel" if kind.startswith("b") else "recursive")
            else:
                aligns[i] = _softmax(np.where(MASK, score, -np.inf))
            context = np.einsum("bt,btm->bm", aligns[i], values)
            parts.append(np.concatenate([h, context], 1) @ w[f"attention_wrapper/{layers[i]}/kernel"]
                         if layers else context)
        att = np.concatenate(parts, 1)
        outs.append(att)
    return np.stack(outs, 1), aligns


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_attention_wrapper_matches_the_numpy_reference(run, name: str) -> None:
    values, weights, memory_kernels = run
    expected, aligns = _reference(name, weights, memory_kernels)
    out, final_alignments, history = values[name]
    np.testing.assert_allclose(out, expected, atol=2e-5)
    final = final_alignments if isinstance(final_alignments, tuple) else (final_alignments,)
    assert len(final) == len(aligns) and isinstance(final_alignments, tuple) == (name in ("multi", "layer_list"))
    for got, want in zip(final, aligns):
        np.testing.assert_allclose(got, want, atol=2e-5)
        assert np.allclose(got[~MASK], 0)                  # padded memory gets no attention
    if name == "multi":
        assert history.shape == (T, B, TM)
        np.testing.assert_allclose(history[-1], aligns[0], atol=2e-5)


def test_tf_1_15_variable_names_and_score_bias_init(run) -> None:
    _, weights, _ = run
    bm = "top/bahdanau_monotonic/attention_wrapper/bahdanau_monotonic_attention/"
    for suffix in ("query_layer/kernel", "attention_v", "attention_g", "attention_b", "attention_score_bias"):
        assert bm + suffix in weights, bm + suffix
    assert weights[bm + "attention_score_bias"] == pytest.approx(-0.5)
    lm = "top/luong_monotonic/attention_wrapper/luong_monotonic_attention/"
    assert weights[lm + "attention_score_bias"] == pytest.approx(0.25) and weights[lm + "attention_g"].shape == ()
    assert weights["top/multi/attention_wrapper/attention_layer/kernel"].shape == (U + M, 3)
    assert weights["top/multi/attention_wrapper/attention_layer_1/kernel"].shape == (U + M, 2)
    assert weights["top/layer_list/attention_wrapper/my_attention/kernel"].shape == (U + M, 2)
    assert weights["top/memory_layer/kernel"].shape == (M, 4)


def test_attention_fn_replaces_the_attention(run) -> None:
    assert run[0]["custom"].shape == (B, T, 2) and not run[0]["custom"].any()


def test_wrapper_refuses_bad_mechanism_arguments() -> None:
    with tf.Graph().as_default():
        memory = tf.constant(MEM)
        mech = s2s.LuongAttention(U, memory)
        cell = v1.nn.rnn_cell.BasicRNNCell(U)
        with pytest.raises(TypeError, match="attention_mechanism must be an AttentionMechanism"):
            s2s.AttentionWrapper(cell, "luong")
        with pytest.raises(ValueError, match="exactly one integer per attention_mechanism, saw: 1 vs 2"):
            s2s.AttentionWrapper(cell, [mech, mech], attention_layer_size=[3])
        with pytest.raises(ValueError, match="Only one of attention_layer_size and attention_layer"):
            s2s.AttentionWrapper(cell, mech, attention_layer_size=3, attention_layer=v1.layers.Dense(3))
        with pytest.raises(ValueError, match="mode must be"):
            s2s.BahdanauMonotonicAttention(4, memory, mode="soft")
