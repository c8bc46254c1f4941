"""``rnn-migrate inspect CKPT``: what a TF1 checkpoint holds, every variable accounted for."""
from __future__ import annotations

import argparse

from migration.commands.common import EXIT_CHECK_FAILED, EXIT_OK, print_json
from migration.families import family

NAME = "inspect"
HELP = "list the RNN blocks, embeddings, dense heads and optimizer state of a TF1 checkpoint"

DESCRIPTION = """\
List what a TF1 checkpoint holds, recognized from variable names and shapes (and from the .meta graph when it is
next to the checkpoint; the graph is parsed, never executed): every RNN block (scope, cell kind, units, input size,
MultiRNNCell layers, fw/bw), embeddings (variables, partitioned variables, and NumPy matrices that the graph holds
as constants), dense heads (incl. unnamed Variable/Variable_1 pairs), optimizer slots and global_step.
Every checkpoint variable appears exactly once: consumed by something recognized, or listed as unrecognized with
the reason.

cell table (directory under the block scope -> kind):
  basic_lstm_cell/{kernel,bias}                           BasicLSTMCell
  lstm_cell/{kernel,bias}[,w_{f,i,o}_diag][,projection/kernel]  LSTMCell (peepholes, num_proj; clips from .meta)
  basic_rnn_cell/{kernel,bias}                            BasicRNNCell
  gru_cell/{gates,candidate}/{kernel,bias}                GRUCell
  rnn_cell/{W,b}                                          hand-written get_variable cell (seed 002)
  ... under multi_rnn_cell/cell_K/ (layers) and fw/, bw/ (bidirectional)

seq2seq blocks (tf.contrib.seq2seq AttentionWrapper: memory_layer/kernel, .../attention_wrapper/{bahdanau_attention,
luong_attention}/..., attention_layer/kernel and the wrapped cell; legacy_seq2seq embedding_attention_seq2seq: its
whole scope with AttnW_k, AttnV_k, Attention_k, AttnOutputProjection) are listed with their mechanism,
normalize/scale, sizes and the Keras twin; a bare legacy_seq2seq attention_decoder is listed and refused by convert.

examples:
  rnn-migrate inspect models/pretrained_lstm.ckpt-40000
  rnn-migrate inspect models/            # the latest checkpoint named by models/checkpoint
  rnn-migrate inspect model.ckpt --json | jq '.blocks[].scope'

exit codes: 0 convertible, 1 inspected but `convert` would refuse it (no RNN, unknown cell layout; the report says
why), 2 unreadable or inconsistent checkpoint (the message names the file and the remedy).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint prefix (model.ckpt-1000), one of its files, or a "
                                                      "directory with a 'checkpoint' state file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=run)


def format_report(report: dict) -> str:
    lines = [f"checkpoint: {report['checkpoint']}", f"graph (.meta): {report['meta'] or 'none (defaults used)'}", ""]
    lines.append("RNN blocks:")
    for b in report["blocks"]:
        lines.append(f"  {b['scope'] or '(root)':<24} {'bidirectional' if b['bidirectional'] else 'unidirectional'}, "
                     f"layers={b['layers']}, input_size={b['input_size']}")
        for d, cells in b["directions"].items():
            for k, c in enumerate(cells):
                s = c["spec"]
                keys = family(s["kind"]).inspect_keys
                extra = ", ".join(f"{key}={s[key]}" for key in keys if s[key] is not None and s[key] is not False)
                lines.append(f"    {d or '-':<3} layer {k}: {s['kind']:<12} units={s['units']:<5} {extra}  [{c['path']}]")
        if b.get("wrapper"):
            w = b["wrapper"]
            lines.append(f"    in AttentionCellWrapper: attn_length={w['attn_length']} (from the .meta), "
                         f"attn_size={w['attn_size']}, attn_vec_size={w['attn_vec_size']}, input_size={w['input_size']}")
    for c in report.get("conv_blocks") or []:
        bias = "" if c["biases"] else ", no biases"
        lines.append(f"  {c['scope'] or '(root)':<24} ConvLSTM {c['conv_ndims']}-D, kernel {list(c['kernel_shape'])}, "
                     f"{c['input_channels']} -> {c['output_channels']} channels, spatial "
                     f"{list(c['spatial_shape']) if c['spatial_shape'] else 'unknown (no .meta)'}, "
                     f"forget_bias={c['forget_bias']} ({c['hyper_source']}){bias}  [{c['path']}]")
    if not report["blocks"] and not report.get("conv_blocks"):
        lines.append("  (none)")
    if report.get("crf"):
        lines.append("CRF transitions: " + ", ".join(report["crf"]) + " (exported to crf/ by convert)")
    if report.get("seq2seq"):
        from migration.checkpoint.seq2seq import format_lines  # on first use (see migration.commands)

        lines += format_lines(report["seq2seq"])
    lines.append("embeddings:")
    for e in report["embeddings"]:
        part = f", {e['partitions']} partitions ({e['strategy']})" if (e["partitions"] or 1) > 1 else ""
        lines.append(f"  {e['name']:<32} {e['source']:<15} {e['shape']}{part}  {e['note']}".rstrip())
    lines.append("dense heads:")
    for d in report["dense"]:
        lines.append(f"  {d['name']:<32} kernel={d['kernel']} bias={d['bias'] or 'none (use_bias=False)'} "
                     f"{d['shape']}")
    lines.append("optimizer:")
    for o in report["optimizers"]:
        lines.append(f"  {o['kind']} ({o['name']}): slots for {len(o['slots'])} variables; counters {sorted(o['counters'])}")
    lines.append(f"  global_step: {report['global_step'] or 'none'}")
    if report.get("bookkeeping"):
        lines.append(f"distributed-training bookkeeping ({len(report['bookkeeping'])}, recognized, not migrated):")
        for key, what in report["bookkeeping"].items():
            lines.append(f"  {key}: {what}")
    lines.append(f"unrecognized ({len(report['unrecognized'])}):")
    for u in report["unrecognized"]:
        lines.append(f"  {u['name']} {u['shape']}: {u['reason']}")
    lines.append("")
    lines.append(f"variables: {len(report['variables'])} total, {len(report['consumed'])} recognized, "
                 f"{len(report['unrecognized'])} unrecognized")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    for problem in report["problems"]:
        lines.append(f"cannot convert: {problem}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from migration.checkpoint.recognize import inspect_checkpoint  # on first use (see migration.commands)

    report = inspect_checkpoint(args.checkpoint).to_dict()
    if args.json:
        print_json(report)
    else:
        print(format_report(report))
    return EXIT_OK if report["convertible"] else EXIT_CHECK_FAILED
