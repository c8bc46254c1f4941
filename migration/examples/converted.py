"""The converted sentiment model as ``rnn-migrate convert --with-optimizer`` wrote it: ``model.keras`` (loaded in safe
mode) called the way the sentiment code calls its models, and its converted optimizer state.

Used by the demo (:mod:`migration.demo`) and by each process of :mod:`.distributed` (``rnn-migrate demo
--strategy``), which therefore load the same files the same way.
"""
from __future__ import annotations

from pathlib import Path

from migration.checkpoint import optimizer as opt
from migration.checkpoint.manifest import read_manifest
from migration.core.errors import MigrationError
from migration.safe_io import load_block_model


class WholeModel:
    """``model.keras`` called the way the sentiment code calls its models, ``model((ids, lengths))``: each array goes
    to the model input of the same placeholder name (the seed's graph reads ``lengths`` only with ``use_length``)."""

    def __init__(self, model, inputs: list[str]) -> None:
        self.model, self.inputs = model, inputs
        unknown = [n for n in inputs if n not in ("input_data", "lengths")]
        if unknown:
            raise MigrationError(f"model.keras takes inputs {inputs}; the demo feeds only input_data and lengths.")

    def __call__(self, inputs, training=None):
        ids, lengths = inputs
        args = [{"input_data": ids, "lengths": lengths}[n] for n in self.inputs]
        return self.model(args[0] if len(args) == 1 else args, training=training)

    @property
    def trainable_variables(self):
        return self.model.trainable_variables


def load_converted_model(out_dir: Path, model=None):
    """The whole Keras model ``convert`` wrote (``model.keras``, loaded in safe mode), and a tf_keras Adam holding
    the converted TF1 slots with ``iterations = global_step``: nothing is assembled by hand.

    ``model``: that whole model already loaded (``migration.examples.distributed`` rebuilds it inside a parameter-server
    strategy's scope, whose sharded embedding the ``.keras`` loader cannot fill); the optimizer is made here."""
    entry = read_manifest(str(out_dir)).get("model")
    if not entry:
        raise MigrationError(f"{out_dir} holds no whole model (model.keras): {read_manifest(str(out_dir))['notes']}")
    model = load_block_model(out_dir, entry["file"]) if model is None else model
    optimizer, info = opt.make_optimizer(str(out_dir))
    opt.restore_slots(optimizer, opt.whole_model_slots(str(out_dir), model), info.get("iterations"))
    return WholeModel(model, entry["inputs"]), optimizer, info, entry
