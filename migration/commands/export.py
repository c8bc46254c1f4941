"""``rnn-migrate export KERAS_MODEL OUT_PREFIX``: Keras 2 RNN model -> TF1 name-based checkpoint."""
from __future__ import annotations

import argparse
import os

from migration.commands.common import EXIT_OK, finite_float, print_json
from migration.core.errors import MigrationError
from migration.safe_io import check_keras_archive

NAME = "export"
HELP = "write a Keras 2 RNN model's weights as a TF1 checkpoint that Saver restores (rnn/basic_lstm_cell/kernel ...)"

DESCRIPTION = """\
The reverse of `convert`: a Keras 2 model (a block model written by convert, or your own Sequential/functional
model with SimpleRNN, LSTM, GRU(reset_after=False), RNN(cell), StackedRNNCells, Bidirectional, Embedding, Dense)
becomes a TF1 name-based checkpoint with the standard scopes:

  LSTM                -> rnn/basic_lstm_cell/{kernel,bias}   (gates i,f,c,o -> i,j,f,o; b_f - forget_bias)
  GRU(reset_after=False) -> rnn/gru_cell/{gates,candidate}/{kernel,bias}
  SimpleRNN           -> rnn/basic_rnn_cell/{kernel,bias}
  RNN(StackedRNNCells)-> rnn/multi_rnn_cell/cell_K/<cell>/...
  Bidirectional       -> bidirectional_rnn/{fw,bw}/<cell>/...
  Embedding 'emb'     -> emb;   Dense 'dense' -> dense/kernel, dense/bias
  --partitions N      -> emb saved as the N parts of a fixed_size_partitioner(N) variable (emb/part_k on restore);
                         --partition-strategy mod (TF1's embedding_lookup default) or div: the graph's lookup of
                         id i then returns the Keras row i

A model that `convert` wrote (OUT/model.keras, OUT/blocks/*.keras, found through OUT/manifest.json, or a fine-tuned
copy saved elsewhere with --manifest OUT/manifest.json) gets the ORIGINAL graph's names instead: its cells under
their own scopes and kinds (lstm_cell, not basic_lstm_cell) with their own forget_bias, its embeddings and dense
heads under their variable names, so Saver.restore in the original .meta graph works. --standard-names, --scope,
--forget-bias or --partitions choose the standard scopes above.

GRU(reset_after=True) (the tf_keras default) is refused: it cannot equal a TF1 GRUCell.
Models are loaded without running code from them: .keras archives with safe_mode (Lambda layers refused); a legacy
.h5 only with --trust-model (its Lambda bytecode would run); a SavedModel directory never.

examples:
  rnn-migrate export converted/blocks/rnn.keras exported/model.ckpt
  rnn-migrate export my_model.keras tf1/model.ckpt --scope encoder --forget-bias 0.0
  rnn-migrate export trained.keras ps/model.ckpt --partitions 2 --partition-strategy div
  rnn-migrate export converted/model.keras tf1/model.ckpt          # the original graph's names (its manifest)
  rnn-migrate export tuned.keras tf1/model.ckpt --manifest converted/manifest.json
  # TF1 side: tf.compat.v1.train.Saver().restore(sess, 'exported/model.ckpt')
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)

    p.add_argument("model", metavar="KERAS_MODEL", help="a .keras model file (an .h5 only with --trust-model)")
    p.add_argument("out_prefix", metavar="OUT_PREFIX", help="checkpoint prefix to write (OUT_PREFIX.index, .data-*)")
    p.add_argument("--scope", default=None, help="block scope (default rnn; bidirectional_rnn for fw/bw)")
    p.add_argument("--forget-bias", type=finite_float, default=None, metavar="F",
                   help="forget_bias of the TF1 LSTM cells that will load it (default 1.0, TF1's own, printed with the result)")
    p.add_argument("--manifest", default=None, metavar="OUT/manifest.json",
                   help="the manifest of the conversion the model came from (found by itself when the model is in "
                        "the conversion's directory): the checkpoint gets the original graph's names")
    p.add_argument("--standard-names", action="store_true",
                   help="ignore the conversion manifest: standard scopes (rnn/basic_lstm_cell, layer names)")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing checkpoint at OUT_PREFIX (only a readable TF checkpoint, never an input)")
    p.add_argument("--trust-model", action="store_true",
                   help="allow a legacy .h5 model: its Lambda layers' Python code RUNS while loading (warning printed)")
    p.add_argument("--partitions", type=int, default=1, metavar="N",
                   help="write each Embedding as a fixed_size_partitioner(N) variable's N parts (default 1: whole)")
    p.add_argument("--partition-strategy", choices=("mod", "div"), default="mod",
                   help="embedding_lookup partition_strategy of the graph that restores it (default mod, TF1's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    given = [flag for flag, value in (("--scope", args.scope), ("--forget-bias", args.forget_bias),
                                      ("--partitions", args.partitions != 1 or None)) if value is not None]
    if given and args.manifest:
        raise MigrationError(f"{' and '.join(given)} and --manifest: with --manifest the names, forget_bias and "
                             f"partitions come from {args.manifest!r}; drop {' and '.join(given)}, or drop --manifest "
                             "(standard scopes).")
    model = os.fspath(args.model)
    if os.path.splitext(model)[1].lower() == ".keras" and os.path.isfile(model):
        check_keras_archive(model)  # a refused archive is refused in a blink, before TensorFlow is imported
    from migration.checkpoint.export import export_keras_model  # on first use (see migration.commands)
    from migration.checkpoint.export_names import names_for

    hook = None if args.standard_names or given else names_for(args.model, args.manifest)
    result = export_keras_model(args.model, args.out_prefix, scope=args.scope,
                                forget_bias=1.0 if args.forget_bias is None else args.forget_bias,
                                force=args.force, trust=args.trust_model, partitions=args.partitions,
                                partition_strategy=args.partition_strategy, names=hook)
    if hook is not None:
        names = (f"the original graph's names, from {hook.path}" if hook.applied else
                 f"export's own (a seq2seq model: the TF1 names it records; else standard scopes): {hook.path} maps "
                 "only model.keras and the plain blocks/*.keras")
    else:
        names = "standard scopes" + ("" if args.standard_names else f" ({' and '.join(given)} given)" if given else
                                     " (no conversion manifest lists this model)")
    forget_bias = None
    if hook is None and any("lstm_cell/" in name for name in result.variables):
        # never a silent default: the graph that restores an LSTM must add the same forget_bias back
        forget_bias = (f"{args.forget_bias} (--forget-bias)" if args.forget_bias is not None else
                       "1.0 (the default of TF1's BasicLSTMCell and LSTMCell: the graph that restores this must build "
                       "its cells with forget_bias=1.0, else pass --forget-bias F)")
    if args.json:
        print_json({**result.to_dict(), "names": names, **({"forget_bias": forget_bias} if forget_bias else {})})
    else:
        print(f"names: {names}")
        if forget_bias:
            print(f"forget_bias: {forget_bias}")
        print(f"wrote {result.prefix}.index and data ({len(result.variables)} variables):")
        for name, shape in result.variables.items():
            part = result.partitions.get(name)
            extra = f"  ({part['parts']} parts, fixed_size_partitioner, '{part['strategy']}' lookup)" if part else ""
            print(f"  {name:<50} {shape}  <- {result.sources[name]}{extra}")
    return EXIT_OK
