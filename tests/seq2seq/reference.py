"""NumPy references of TF 1.15 seq2seq, written from the 1.15 source formulas on TF1-layout arrays (float64).

Independent of both implementations: the cell step comes from :mod:`tests.core.reference`, everything else is
written out here (attention scores, masking, the wrapper step, greedy decoding, the beam search step and the
``GatherTree`` kernel's loops, the losses and ``legacy_seq2seq.attention_decoder``).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from migration.core.specs import CellSpec
from tests.core.reference import step as cell_step, zero_state


def softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def log_softmax(a: np.ndarray) -> np.ndarray:
    m = a.max(-1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(-1, keepdims=True))


@dataclasses.dataclass
class Attention:
    """One wrapper's configuration and TF1 arrays (relative to ``.../attention_wrapper/``)."""

    mechanism: str                 # bahdanau | luong
    w: dict                        # relative names: memory_layer/kernel, bahdanau_attention/..., attention_layer/kernel
    cell_spec: CellSpec
    cell_w: dict                   # TF1 cell arrays under the cell scope
    normalize: bool = False
    scale: bool = False
    output_attention: bool = True
    input_first: bool = True       # cell_input_fn: concat([inputs, attention]) (TF1) or the reverse (negative control)
    mask_memory: bool = True       # negative control: ignore memory_sequence_length
    drop_normalization: bool = False
    luong_scale_twice: bool = False

    def prepare(self, memory: np.ndarray, lengths: Optional[np.ndarray]):
        memory = np.asarray(memory, np.float64)
        mask = None
        if lengths is not None and self.mask_memory:
            mask = np.arange(memory.shape[1])[None, :] < np.asarray(lengths)[:, None]
            memory = memory * mask[:, :, None]
        return memory, memory @ self.w["memory_layer/kernel"], mask

    def alignments(self, query: np.ndarray, keys: np.ndarray, mask) -> np.ndarray:
        if self.mechanism == "bahdanau":
            pq = (query @ self.w["bahdanau_attention/query_layer/kernel"])[:, None, :]
            v = self.w["bahdanau_attention/attention_v"]
            if self.normalize and not self.drop_normalization:
                g, b = self.w["bahdanau_attention/attention_g"], self.w["bahdanau_attention/attention_b"]
                score = np.sum(g * v / np.sqrt(np.sum(v ** 2)) * np.tanh(keys + pq + b), 2)
            elif self.normalize:  # negative control: keep b, drop g v / ||v||
                score = np.sum(v * np.tanh(keys + pq + self.w["bahdanau_attention/attention_b"]), 2)
            else:
                score = np.sum(v * np.tanh(keys + pq), 2)
        else:
            score = np.einsum("bn,btn->bt", query, keys)
            if self.scale:
                g = self.w["luong_attention/attention_g"]
                score = g * score * (g if self.luong_scale_twice else 1.0)
        if mask is not None:
            score = np.where(mask, score, -np.inf)
        return softmax(score)

    def initial(self, batch: int, attention_size: int, max_time: int) -> dict:
        return {"cell": zero_state(self.cell_spec, batch), "attention": np.zeros((batch, attention_size)),
                "alignments": np.zeros((batch, max_time))}

    def step(self, x: np.ndarray, state: dict, values, keys, mask) -> tuple[np.ndarray, dict]:
        cell_in = np.concatenate([x, state["attention"]] if self.input_first else [state["attention"], x], 1)
        out, cell_state = cell_step(self.cell_spec, self.cell_w, cell_in, state["cell"])
        align = self.alignments(out, keys, mask)
        context = np.einsum("bt,btm->bm", align, values)
        attention = (np.concatenate([out, context], 1) @ self.w["attention_layer/kernel"]
                     if "attention_layer/kernel" in self.w else context)
        new = {"cell": cell_state, "attention": attention, "alignments": align}
        return (attention if self.output_attention else out), new


def teacher_forced(att: Attention, memory, lengths, inputs: np.ndarray, proj_w, proj_b, attention_size: int):
    """BasicDecoder + TrainingHelper over all steps: (logits [B, T, V], history [T, B, Tm], final state dict)."""
    values, keys, mask = att.prepare(memory, lengths)
    state = att.initial(inputs.shape[0], attention_size, values.shape[1])
    logits, history = [], []
    for t in range(inputs.shape[1]):
        out, state = att.step(np.asarray(inputs[:, t], np.float64), state, values, keys, mask)
        logits.append(out @ proj_w + proj_b)
        history.append(state["alignments"])
    return np.stack(logits, 1), np.stack(history), state


def greedy(att: Attention, memory, lengths, embedding, proj_w, proj_b, start: int, end: int, max_iter: int,
           attention_size: int) -> np.ndarray:
    """GreedyEmbeddingHelper: ids [B, steps] until every row emitted ``end`` (or ``max_iter`` steps)."""
    values, keys, mask = att.prepare(memory, lengths)
    batch = values.shape[0]
    state = att.initial(batch, attention_size, values.shape[1])
    x = embedding[np.full(batch, start)]
    ids, finished = [], np.zeros(batch, bool)
    for _ in range(max_iter):
        out, state = att.step(x, state, values, keys, mask)
        sample = np.argmax(out @ proj_w + proj_b, -1)
        ids.append(sample)
        finished |= sample == end
        if finished.all():
            break
        x = embedding[sample]
    return np.stack(ids, 1)


def gather_tree(step_ids: np.ndarray, parent_ids: np.ndarray, max_lengths: np.ndarray, end: int) -> np.ndarray:
    """The 1.15 ``GatherTree`` CPU kernel, loop for loop."""
    steps, batch, beams = step_ids.shape
    out = np.full_like(step_ids, end)
    for b in range(batch):
        for w in range(beams):
            n = int(max_lengths[b])
            if n <= 0:
                continue
            out[n - 1, b, w] = step_ids[n - 1, b, w]
            parent = parent_ids[n - 1, b, w]
            for level in range(n - 2, -1, -1):
                out[level, b, w] = step_ids[level, b, parent]
                parent = parent_ids[level, b, parent]
            done = False
            for t in range(n):
                if done:
                    out[t, b, w] = end
                elif out[t, b, w] == end:
                    done = True
    return out


def beam_search(att: Attention, memory, lengths, embedding, proj_w, proj_b, start: int, end: int, width: int,
                max_iter: int, length_penalty: float, attention_size: int) -> dict:
    """BeamSearchDecoder + dynamic_decode (1.15 ``_beam_search_step``); memory/lengths are NOT tiled here."""
    values, keys, mask = att.prepare(np.repeat(memory, width, 0), None if lengths is None else np.repeat(lengths, width))
    batch = memory.shape[0]
    state = att.initial(batch * width, attention_size, values.shape[1])
    log_probs = np.where(np.arange(width)[None, :] == 0, 0.0, -np.inf) * np.ones((batch, 1))
    finished = np.arange(width)[None, :] != 0
    finished = np.repeat(finished, batch, 0)
    lens = np.zeros((batch, width), np.int64)
    x = embedding[np.full(batch * width, start)]
    ids, parents, scores_out = [], [], []
    for _ in range(max_iter):
        out, state = att.step(x, state, values, keys, mask)
        logits = (out @ proj_w + proj_b).reshape(batch, width, -1)
        vocab = logits.shape[-1]
        step_lp = log_softmax(logits)
        eos_row = np.where(np.arange(vocab) == end, 0.0, np.finfo(np.float32).min)
        step_lp = np.where(finished[:, :, None], eos_row, step_lp)
        total = log_probs[:, :, None] + step_lp
        new_len = lens[:, :, None] + ((~finished)[:, :, None] & (np.arange(vocab) != end))
        penalty = 1.0 if length_penalty == 0 else ((5.0 + new_len) ** length_penalty) / (6.0 ** length_penalty)
        flat = (total / penalty).reshape(batch, -1)
        top = np.argsort(-flat, axis=1, kind="stable")[:, :width]
        word, parent = top % vocab, top // vocab
        scores_out.append(np.take_along_axis(flat, top, 1))
        log_probs = np.take_along_axis(total.reshape(batch, -1), top, 1)
        parent_finished = np.take_along_axis(finished, parent, 1)
        finished = parent_finished | (word == end)
        lens = np.take_along_axis(lens, parent, 1) + (~parent_finished)
        rows = (np.arange(batch)[:, None] * width + parent).reshape(-1)
        state = {k: (tuple(s[rows] for s in v) if isinstance(v, tuple) else v[rows]) for k, v in state.items()}
        ids.append(word)
        parents.append(parent)
        if finished.all():
            break
        x = embedding[word.reshape(-1)]
    step_ids, parent_ids = np.stack(ids), np.stack(parents)
    predicted = gather_tree(step_ids, parent_ids, lens.max(1), end)
    return {"predicted_ids": predicted.transpose(1, 0, 2), "step_ids": step_ids, "parent_ids": parent_ids,
            "scores": np.stack(scores_out).transpose(1, 0, 2), "lengths": lens}


def sequence_loss(logits, targets, weights, across_time: bool = True, across_batch: bool = True) -> np.ndarray:
    """contrib ``sequence_loss`` (averaging variants): weighted cross-entropy over the weight sums."""
    xent = -np.take_along_axis(log_softmax(np.asarray(logits, np.float64)), targets[..., None], -1)[..., 0] * weights
    if across_time and across_batch:
        return xent.sum() / weights.sum()
    if across_time or across_batch:
        axis = 0 if across_batch else 1
        return xent.sum(axis) / weights.sum(axis)
    return xent


def attention_decoder(inputs: list, state: tuple, attention_states: np.ndarray, cell_fn, w: dict) -> tuple[list, tuple]:
    """``legacy_seq2seq.attention_decoder``, one head, relative TF1 names (``AttnW_0`` ...); ``cell_fn(x, state)`` is
    one TF1 cell step (state in TF1 order, flattened into the query)."""
    hidden = np.asarray(attention_states, np.float64)
    features = hidden @ w["AttnW_0"][0, 0]
    attn = np.zeros((hidden.shape[0], hidden.shape[2]))
    outputs = []
    for inp in inputs:
        x = np.concatenate([inp, attn], 1) @ w["kernel"] + w["bias"]
        out, state = cell_fn(x, state)
        query = np.concatenate(state, 1)
        y = query @ w["Attention_0/kernel"] + w["Attention_0/bias"]
        s = np.sum(w["AttnV_0"] * np.tanh(features + y[:, None, :]), 2)
        attn = np.einsum("bt,bta->ba", softmax(s), hidden)
        outputs.append(np.concatenate([out, attn], 1) @ w["AttnOutputProjection/kernel"] + w["AttnOutputProjection/bias"])
    return outputs, state


def sequence_loss_by_example(logits: list, targets: list, weights: list, average: bool = True) -> np.ndarray:
    """legacy_seq2seq: per-example sum of weighted cross-entropies (divided by sum of weights + 1e-12)."""
    total = sum(-log_softmax(np.asarray(lg, np.float64))[np.arange(len(t)), t] * w
                for lg, t, w in zip(logits, targets, weights))
    return total / (sum(weights) + 1e-12) if average else total
