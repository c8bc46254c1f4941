"""Benchmark (issue 24): an attention decoder's ONNX file (``seq2seq/<name>.onnx``, ``convert --target onnx``)
against its Keras 2 model (``seq2seq/<name>.keras``, ``AttentionDecoderModel``) on the same inputs.

Writes one TF1 training graph with Saver into a temp dir: ids -> embedding 2000x128 -> AttentionWrapper(
BasicLSTMCell(256), BahdanauAttention(128, normalize), attention_layer_size 128) over a [batch, 40, 128] memory with
ragged lengths -> output projection 2000, teacher forced (``TrainingHelper``), ``sequence_loss``. Converts it once
in-process with ``targets=["onnx"]`` (verification included), then times the teacher-forced logits, batch 32 x 30
decoder steps, median of ``--calls`` after a warm-up: the Keras 2 model called eagerly and through ``tf.function``,
the ONNX graph in onnxruntime (CPU, 1 and 2 intra-op threads); and greedy decoding (30 steps, an end token never
emitted first: every step runs): ``AttentionDecoderModel.greedy`` eagerly against the ``.greedy.onnx`` Loop. Results
go into docs/benchmarks.md between <!-- bench_seq2seq_onnx:start --> and <!-- bench_seq2seq_onnx:end -->.

    python benchmarks/bench_seq2seq_onnx.py [--calls 10] [--no-write]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from bench_targets import median_time  # noqa: E402
from doc_section import write_section  # noqa: E402

DOC = os.path.join(ROOT, "docs", "benchmarks.md")
START, END = "<!-- bench_seq2seq_onnx:start -->", "<!-- bench_seq2seq_onnx:end -->"
VOCAB, EMB, UNITS, MEM, ATT, BATCH, SRC, TGT = 2000, 128, 256, 128, 128, 32, 40, 30


def build(directory: str) -> str:
    import legacy_rnn
    from legacy_rnn import seq2seq as ls, tf, v1

    with legacy_rnn.new_graph(1) as graph:
        memory = v1.placeholder(tf.float32, [None, None, MEM], "memory")
        lengths = v1.placeholder(tf.int32, [None], "memory_length")
        ids = v1.placeholder(tf.int32, [None, None], "decoder_ids")
        targets = v1.placeholder(tf.int32, [None, None], "targets")
        embedding = v1.get_variable("embedding", [VOCAB, EMB])
        mech = ls.BahdanauAttention(ATT, memory, memory_sequence_length=lengths, normalize=True)
        cell = ls.AttentionWrapper(legacy_rnn.basic_lstm_cell(UNITS), mech, attention_layer_size=ATT)
        batch = tf.shape(ids)[0]
        helper = ls.TrainingHelper(tf.nn.embedding_lookup(embedding, ids), tf.fill([batch], tf.shape(ids)[1]))
        decoder = ls.BasicDecoder(cell, helper, cell.zero_state(batch, tf.float32),
                                  output_layer=v1.layers.Dense(VOCAB, name="output_projection"))
        out = ls.dynamic_decode(decoder)[0]
        ls.sequence_loss(out.rnn_output, targets, tf.ones_like(targets, tf.float32))
        sess = legacy_rnn.new_session(graph)
        legacy_rnn.initialize(sess)
        return v1.train.Saver().save(sess, os.path.join(directory, "model.ckpt"))


def measure(out: str, calls: int) -> list[tuple[str, tuple[float, float], float]]:
    import onnxruntime as ort
    import tensorflow as tf

    import modern_rnn.seq2seq.models  # noqa: F401
    from migration.safe_io import load_keras_model
    from migration.targets.onnx_greedy import run_greedy

    rng = np.random.default_rng(0)
    memory = rng.normal(0, 1, (BATCH, SRC, MEM)).astype(np.float32)
    lengths = rng.integers(1, SRC + 1, BATCH).astype(np.int32)
    ids = rng.integers(0, VOCAB, (BATCH, TGT)).astype(np.int32)
    model = load_keras_model(os.path.join(out, "seq2seq", "decoder.keras"))
    inputs = {"decoder_inputs": ids, "memory": memory, "memory_sequence_length": lengths}
    fn = tf.function(lambda i, m, n: model({"decoder_inputs": i, "memory": m, "memory_sequence_length": n}))
    ref = np.asarray(model(inputs))
    runs = {"teacher forced: Keras 2 AttentionDecoderModel, eager call": lambda: model(inputs),
            "teacher forced: Keras 2 AttentionDecoderModel, tf.function": lambda: fn(ids, memory, lengths)}
    for threads in (1, 2):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        sess = ort.InferenceSession(os.path.join(out, "seq2seq", "decoder.onnx"), options,
                                    providers=["CPUExecutionProvider"])
        runs[f"teacher forced: ONNX Scan (onnxruntime {ort.__version__}, {threads} thread{'s' * (threads > 1)})"] = \
            (lambda s=sess: s.run(["logits"], inputs)[0])
    rows = [(name, median_time(f, calls), float(np.max(np.abs(np.asarray(f()) - ref)))) for name, f in runs.items()]
    start, end = np.zeros(BATCH, np.int32), -1  # no row ever ends: every one of the TGT steps runs
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    loop = ort.InferenceSession(os.path.join(out, "seq2seq", "decoder.greedy.onnx"), options,
                                providers=["CPUExecutionProvider"])
    want = np.asarray(model.greedy(memory, lengths, start, end, TGT)[0])
    greedy = {"greedy, 30 steps: Keras 2 AttentionDecoderModel.greedy, eager": lambda: model.greedy(
        memory, lengths, start, end, TGT)[0],
        "greedy, 30 steps: ONNX Loop (onnxruntime, 1 thread)": lambda: loop.run(["sample_id"], {
            "memory": memory, "memory_sequence_length": lengths, "start_tokens": start,
            "end_token": np.array(end, np.int32), "maximum_iterations": np.array(TGT, np.int64)})[0]}
    assert np.array_equal(run_greedy(os.path.join(out, "seq2seq", "decoder.greedy.onnx"), memory, lengths, start, end,
                                     TGT)[0], want)
    rows += [(name, median_time(f, max(3, calls // 3)), float(np.sum(np.asarray(f()) != want)))
             for name, f in greedy.items()]
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="bench-seq2seq-onnx-")
    try:
        from migration.checkpoint.convert import convert_checkpoint

        load_before = os.getloadavg()[0]
        prefix = build(tmp)
        start, cpu = time.perf_counter(), time.process_time()
        result = convert_checkpoint(prefix, os.path.join(tmp, "out"), targets=["onnx"])
        convert_wall, convert_cpu = time.perf_counter() - start, time.process_time() - cpu
        assert result.ok, result.verification
        rows = measure(os.path.join(tmp, "out"), args.calls)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [START, "## Attention decoder to ONNX: inference (`benchmarks/bench_seq2seq_onnx.py`)", "",
             f"Checkpoint: embedding {VOCAB}x{EMB} -> AttentionWrapper(BasicLSTMCell({UNITS}), BahdanauAttention({ATT}, "
             f"normalize), attention_layer_size {ATT}) over a [{BATCH}, {SRC}, {MEM}] memory (ragged lengths) -> "
             f"projection {VOCAB}. `convert --target onnx` in-process: {convert_wall:.1f} s wall, {convert_cpu:.1f} "
             "CPU s of this process (verification included; the sandbox children not counted). Machine: "
             f"{platform.machine()}, {os.cpu_count()} cores **shared with other jobs** (load average "
             f"{load_before:.1f} before, {load_after:.1f} after: compare CPU figures), Python "
             f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}.", "",
             f"Batch {BATCH}, {TGT} decoder steps; median of {args.calls} calls after a warm-up (greedy: of "
             f"{max(3, args.calls // 3)}), wall and CPU (this process, all threads); teacher forced: max |diff| of "
             "the logits against the Keras 2 eager call; greedy: ids differing from the Keras 2 decode:", "",
             "| runtime | median wall ms | median CPU ms | max abs diff / ids differing |", "|---|---:|---:|---:|"]
    for name, (wall, cpu), diff in rows:
        lines.append(f"| {name} | {wall * 1e3:.1f} | {cpu * 1e3:.1f} | {diff:.2g} |")
    lines.append(END)
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(DOC, START, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
