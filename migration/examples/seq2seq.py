"""An attention encoder-decoder reversing digit sequences: trained as TF1 graph code, converted, decoded on both sides.

The data is generated here: a source is 3..``--max-len`` random digits (padded, so the attention memory is ragged);
the target is the same digits reversed, then EOS. Ids: 0 = GO, 1 = EOS, 2..11 = the digits 0..9.

Legacy side (TF 1.15 code on ``legacy_rnn``/``legacy_rnn.seq2seq``, tensorflow/nmt style): an embedding + ``dynamic_rnn``
``BasicLSTMCell`` encoder (scope ``encoder``), an ``AttentionWrapper`` (``BahdanauAttention(normalize=True)`` over the
encoder outputs with ``memory_sequence_length``, ``attention_layer_size``) around a ``BasicLSTMCell`` decoder started
from the encoder's final state, ``TrainingHelper`` + ``BasicDecoder`` + ``dynamic_decode``, ``sequence_loss``, Adam;
saved with a ``Saver``. Greedy (``GreedyEmbeddingHelper``) and beam search (``BeamSearchDecoder`` on ``tile_batch``-ed
memory and state) run in their own graphs restored from the checkpoint.

Modern side: the checkpoint read with ``tf.train.load_checkpoint`` and converted (``migration.seq2seq_converters`` for
the attention decoder, ``migration.converters`` for the encoder LSTM), then ``modern_rnn.seq2seq`` decodes the
same held-out sources greedily and with beam search. The example reports the accuracy and whether every decoded id is
identical on both sides (exit code 1 if not).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Sequence

import numpy as np

from migration.examples.common import (
    add_common_args, emit_json, plot_curves, progress, quiet_tensorflow, result_line, run_guarded, write_scalars,
)
from migration import converters, seq2seq_converters as s2c
from migration.core.errors import MigrationError, check_positive_int
from migration.core.specs import CellSpec

GO, EOS, OFFSET = 0, 1, 2
VOCAB = OFFSET + 10
MIN_LEN = 3


def make_batch(rng: np.random.Generator, batch: int, max_len: int) -> dict[str, np.ndarray]:
    """Sources ``[B, max_len]`` (0-padded, lengths 3..max_len), decoder inputs ``[GO, reversed]``, targets
    ``[reversed, EOS]`` and their 0/1 weights, ``[B, max_len + 1]``."""
    lengths = rng.integers(MIN_LEN, max_len + 1, batch).astype(np.int32)
    src = np.zeros((batch, max_len), np.int32)
    tgt = np.zeros((batch, max_len + 1), np.int32)
    for b, n in enumerate(lengths):
        digits = rng.integers(0, 10, n) + OFFSET
        src[b, :n] = digits
        tgt[b, :n] = digits[::-1]
        tgt[b, n] = EOS
    dec_in = np.concatenate([np.full((batch, 1), GO, np.int32), tgt[:, :-1]], 1)
    weights = (np.arange(max_len + 1)[None, :] <= lengths[:, None]).astype(np.float32)
    return {"src": src, "len": lengths, "dec_in": dec_in, "tgt": tgt, "weights": weights}


# --- legacy (TF1 graph) -----------------------------------------------------------------------------------------------

def _legacy_encoder(src, lengths, units: int, embed: int):
    import legacy_rnn

    tf, v1 = legacy_rnn.tf, legacy_rnn.v1
    emb = v1.get_variable("encoder_embedding", [VOCAB, embed])
    outputs, state = legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(units), tf.nn.embedding_lookup(emb, src),
                                            sequence_length=lengths, dtype=tf.float32, scope="encoder")
    return outputs, state


def _legacy_decoder_cell(memory, lengths, units: int):
    import legacy_rnn
    from legacy_rnn import seq2seq

    mech = seq2seq.BahdanauAttention(units, memory, memory_sequence_length=lengths, normalize=True)
    return seq2seq.AttentionWrapper(legacy_rnn.basic_lstm_cell(units), mech, attention_layer_size=units)


def legacy_train(args: argparse.Namespace, directory: str) -> tuple[list[float], str]:
    import legacy_rnn
    from legacy_rnn import seq2seq

    tf, v1 = legacy_rnn.tf, legacy_rnn.v1
    rng = np.random.default_rng(args.seed)
    steps_out = args.max_len + 1
    with legacy_rnn.new_graph(seed=args.seed):
        src = v1.placeholder(tf.int32, [None, args.max_len], "src")
        lengths = v1.placeholder(tf.int32, [None], "len")
        dec_in = v1.placeholder(tf.int32, [None, steps_out], "dec_in")
        tgt = v1.placeholder(tf.int32, [None, steps_out], "tgt")
        weights = v1.placeholder(tf.float32, [None, steps_out], "weights")
        memory, enc_state = _legacy_encoder(src, lengths, args.units, args.embed)
        cell = _legacy_decoder_cell(memory, lengths, args.units)
        dec_emb = v1.get_variable("decoder_embedding", [VOCAB, args.embed])
        batch = tf.shape(src)[0]
        helper = seq2seq.TrainingHelper(tf.nn.embedding_lookup(dec_emb, dec_in), tf.fill([batch], steps_out))
        decoder = seq2seq.BasicDecoder(cell, helper, cell.zero_state(batch, tf.float32).clone(cell_state=enc_state),
                                       output_layer=v1.layers.Dense(VOCAB, name="output_projection"))
        out, _, _ = seq2seq.dynamic_decode(decoder)
        loss = seq2seq.sequence_loss(out.rnn_output, tgt, weights)
        train_op = v1.train.AdamOptimizer(args.learning_rate).minimize(loss)
        losses = []
        with legacy_rnn.new_session() as sess:
            legacy_rnn.initialize(sess)
            for _ in progress(range(args.steps), total=args.steps, desc="TF1 training", quiet=args.quiet):
                b = make_batch(rng, args.batch, args.max_len)
                feed = {src: b["src"], lengths: b["len"], dec_in: b["dec_in"], tgt: b["tgt"], weights: b["weights"]}
                losses.append(float(sess.run([loss, train_op], feed)[0]))
            path = legacy_rnn.save(sess, os.path.join(directory, "model.ckpt"), saver=v1.train.Saver(
                [v for v in v1.global_variables() if "Adam" not in v.op.name and "power" not in v.op.name]))
    return losses, path


def legacy_decode(args: argparse.Namespace, checkpoint: str, data: dict, mode: str) -> np.ndarray:
    """Greedy ids ``[B, T]`` or beam ids ``[B, T, W]`` from a fresh graph restored with a Saver."""
    import legacy_rnn
    from legacy_rnn import seq2seq

    tf, v1 = legacy_rnn.tf, legacy_rnn.v1
    batch = len(data["len"])
    with legacy_rnn.new_graph(seed=0):  # initializers are overwritten by the restore; op determinism wants a seed
        memory, enc_state = _legacy_encoder(tf.constant(data["src"]), tf.constant(data["len"]), args.units,
                                            args.embed)
        lengths = tf.constant(data["len"])
        dec_emb = v1.get_variable("decoder_embedding", [VOCAB, args.embed])
        projection = v1.layers.Dense(VOCAB, name="output_projection")
        start = tf.fill([batch], GO)
        if mode == "greedy":
            cell = _legacy_decoder_cell(memory, lengths, args.units)
            decoder = seq2seq.BasicDecoder(cell, seq2seq.GreedyEmbeddingHelper(dec_emb, start, EOS),
                                           cell.zero_state(batch, tf.float32).clone(cell_state=enc_state), projection)
        else:
            w = args.beam_width
            cell = _legacy_decoder_cell(seq2seq.tile_batch(memory, w), seq2seq.tile_batch(lengths, w), args.units)
            initial = cell.zero_state(batch * w, tf.float32).clone(cell_state=seq2seq.tile_batch(enc_state, w))
            decoder = seq2seq.BeamSearchDecoder(cell, dec_emb, start, EOS, initial, w, output_layer=projection)
        out, _, _ = seq2seq.dynamic_decode(decoder, maximum_iterations=args.max_len + 2)
        ids = out.sample_id if mode == "greedy" else out.predicted_ids
        with legacy_rnn.new_session() as sess:
            v1.train.Saver().restore(sess, checkpoint)
            return sess.run(ids)


# --- modern (Keras 2) -------------------------------------------------------------------------------------------------

class KerasModel:
    """The converted Keras twin: Embedding + RNN(LSTMCell) encoder, AttentionWrapper decoder, Dense projection."""

    def __init__(self, args: argparse.Namespace, checkpoint: str) -> None:
        import modern_rnn
        from modern_rnn import seq2seq

        tf, keras = modern_rnn.tf, modern_rnn.keras
        self.args, self.tf = args, tf
        reader = tf.train.load_checkpoint(checkpoint)
        arrays = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
        conversion = s2c.convert_seq2seq(arrays, forget_bias=1.0)
        if len(conversion.blocks) != 1:
            raise MigrationError(f"{checkpoint}: expected one attention decoder, found {len(conversion.blocks)}.")
        spec = CellSpec("basic_lstm", args.units)
        self.encoder_emb = keras.layers.Embedding(VOCAB, args.embed, mask_zero=True)
        self.encoder = keras.layers.RNN(modern_rnn.basic_lstm_cell(args.units), return_sequences=True,
                                        return_state=True, zero_output_for_mask=True)
        self.decoder_emb = keras.layers.Embedding(VOCAB, args.embed)
        self.projection = keras.layers.Dense(VOCAB)
        self.cell = seq2seq.AttentionWrapper(modern_rnn.basic_lstm_cell(args.units),
                                             seq2seq.BahdanauAttention(args.units, normalize=True),
                                             attention_layer_size=args.units)
        data = make_batch(np.random.default_rng(0), 2, args.max_len)
        self.cell.setup_memory(self.encode(data)[0], data["len"])           # build every layer once
        self.cell(self.decoder_emb(np.zeros(2, np.int32)), self.cell.get_initial_state(2))
        self.projection.build([None, args.units])
        self.encoder_emb.set_weights([arrays["encoder_embedding"]])
        self.decoder_emb.set_weights([arrays["decoder_embedding"]])
        self.encoder.set_weights(converters.cell_to_keras(
            spec, {k.split("/", 2)[2]: v for k, v in arrays.items() if k.startswith("encoder/basic_lstm_cell/")},
            args.embed))
        s2c.assign_named(self.cell.named_weights(), conversion.keras[0])
        self.projection.set_weights([arrays["decoder/output_projection/kernel"],
                                     arrays["decoder/output_projection/bias"]])
        self.unconverted = sorted(set(conversion.unconverted) - {
            "encoder_embedding", "decoder_embedding", "encoder/basic_lstm_cell/kernel", "encoder/basic_lstm_cell/bias",
            "decoder/output_projection/kernel", "decoder/output_projection/bias"})

    def encode(self, data: dict):
        emb = self.encoder_emb(data["src"])
        memory, h, c = self.encoder(emb, mask=self.encoder_emb.compute_mask(data["src"]))
        return memory, [h, c]

    def decode(self, data: dict, mode: str) -> np.ndarray:
        from modern_rnn import seq2seq

        tf, batch = self.tf, len(data["len"])
        memory, state = self.encode(data)
        start = np.full(batch, GO, np.int32)
        if mode == "greedy":
            self.cell.setup_memory(memory, data["len"])
            decoder = seq2seq.BasicDecoder(self.cell, seq2seq.GreedyEmbeddingHelper(self.decoder_emb, start, EOS),
                                           self.cell.get_initial_state(batch, cell_state=state), self.projection)
        else:
            w = self.args.beam_width
            self.cell.setup_memory(seq2seq.tile_batch(memory, w), seq2seq.tile_batch(data["len"], w))
            initial = self.cell.get_initial_state(batch * w, cell_state=seq2seq.tile_batch(state, w))
            decoder = seq2seq.BeamSearchDecoder(self.cell, self.decoder_emb, start, EOS, initial, w,
                                                output_layer=self.projection)
        out, _, _ = seq2seq.dynamic_decode(decoder, maximum_iterations=self.args.max_len + 2)
        return (out.sample_id if mode == "greedy" else out.predicted_ids).numpy()


def accuracy(ids: np.ndarray, data: dict) -> float:
    """Exact-match rate: the decoded sequence up to its first EOS equals the reversed source."""
    hits = 0
    for row, n, tgt in zip(ids, data["len"], data["tgt"]):
        row = list(row)
        hits += row[:n + 1] == list(tgt[:n + 1])
    return hits / len(ids)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-migrate example seq2seq", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Attention encoder-decoder (BahdanauAttention + AttentionWrapper) reversing digit sequences: "
                    "trained as TF1 graph code, converted to Keras 2, greedy and beam search decoding on both sides.",
        epilog="examples:\n  rnn-migrate example seq2seq --steps 300 --json\n"
               "  rnn-migrate example seq2seq --steps 50 --beam-width 3 --plot loss.png")
    p.add_argument("--steps", type=int, default=300, help="TF1 training steps (default 300)")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--max-len", type=int, default=5, help="longest source sequence, >= 3 (default 5)")
    p.add_argument("--units", type=int, default=32, help="LSTM and attention units (default 32)")
    p.add_argument("--embed", type=int, default=16, help="embedding size (default 16)")
    p.add_argument("--beam-width", type=int, default=3, help="beam width (default 3)")
    p.add_argument("--test-size", type=int, default=64, help="held-out sequences decoded on both sides (default 64)")
    p.add_argument("--learning-rate", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    add_common_args(p, seed=0)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    return run_guarded("seq2seq", build_parser().parse_args(argv), _main)


def _main(args: argparse.Namespace) -> int:
    for name in ("steps", "batch", "units", "embed", "beam_width", "test_size"):
        try:
            check_positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
        except ValueError as exc:
            raise MigrationError(str(exc)) from None
    if args.max_len < MIN_LEN:
        raise MigrationError(f"Received an invalid value for `--max-len`: expected an integer >= {MIN_LEN}, "
                             f"got {args.max_len}.")
    quiet_tensorflow(args.seed)
    start = time.time()
    test = make_batch(np.random.default_rng([args.seed, 99]), args.test_size, args.max_len)
    with tempfile.TemporaryDirectory(prefix="rnn-migrate-seq2seq-") as directory:
        losses, checkpoint = legacy_train(args, directory)
        result_line(f"TF1 training: {args.steps} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}", args)
        write_scalars(args.logdir, "legacy", "seq2seq/loss", losses)
        legacy = {mode: legacy_decode(args, checkpoint, test, mode) for mode in ("greedy", "beam")}
        model = KerasModel(args, checkpoint)
    modern = {mode: model.decode(test, mode) for mode in ("greedy", "beam")}
    same = {mode: legacy[mode].shape == modern[mode].shape and bool(np.array_equal(legacy[mode], modern[mode]))
            for mode in legacy}
    result = {"example": "seq2seq", "steps": args.steps, "first_loss": losses[0], "final_loss": losses[-1],
              "greedy_accuracy": {"legacy": accuracy(legacy["greedy"], test), "modern": accuracy(modern["greedy"], test)},
              "beam_accuracy": {"legacy": accuracy(legacy["beam"][:, :, 0], test),
                                "modern": accuracy(modern["beam"][:, :, 0], test)},
              "identical_ids": same, "beam_width": args.beam_width, "test_size": args.test_size,
              "unconverted": model.unconverted, "seconds": round(time.time() - start, 1), "seed": args.seed}
    for mode in ("greedy", "beam"):
        key = f"{mode}_accuracy"
        result_line(f"{mode}: accuracy TF1 {result[key]['legacy']:.3f}, Keras {result[key]['modern']:.3f}, "
            f"ids identical: {same[mode]}", args)
    if args.plot:
        plot_curves(args.plot, {"legacy (TF1 graph)": losses}, title="seq2seq: digit reversal, training loss")
    if args.json:
        emit_json(result)
    return 0 if all(same.values()) else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
