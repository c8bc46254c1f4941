"""Graphs, placeholders and Sessions in the seeds' ``feed_dict`` style, plus checkpoint save/restore.

This module has no modern twin by design: Keras 2 has no graph to build, nothing to feed, and switches dropout with
``training=`` instead of a fed keep probability (see ``modern_rnn.NO_TWIN``). Restores from renamed or exported
checkpoints go through tf-slim (``assign_from_checkpoint_fn`` with a name map), the legacy side's restore toolkit.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
from typing import Iterator, Mapping, Optional

import tensorflow as tf

from migration.core.errors import MigrationError

v1 = tf.compat.v1


@contextlib.contextmanager
def new_graph(seed: Optional[int] = None) -> Iterator[tf.Graph]:
    """``with new_graph(seed) as graph:`` a fresh ``tf.Graph`` as default, with ``set_random_seed(seed)``.

    With a seed, Python's ``random`` is seeded too: the ``tf.compat.v1.nn.rnn_cell`` cells (tf_keras' legacy cells)
    draw their unseeded initializers' seeds from it (``random.randint``), so without this the same graph seed gives
    other initial weights whenever earlier code consumed another number of draws (measured: the demo's first loss
    1.03 or 1.73 depending on PYTHONHASHSEED). Once anything in the process called ``tf_keras.utils.set_random_seed``
    those cells draw from tf_keras' own per-thread generator instead; it is reseeded the same way (a Mersenne twister
    seeded alike gives the same draws), so the same seed gives the same graph whatever ran before in the process
    (measured: the demo's TF1 held-out loss 0.809 in a fresh process, 0.901 after ``set_random_seed(1234)``).
    """
    graph = tf.Graph()
    with graph.as_default():
        if seed is not None:
            random.seed(seed)
            keras_generator = getattr(_keras_seed_generator(), "generator", None)
            if keras_generator is not None:
                keras_generator.seed(seed)
            v1.set_random_seed(seed)
        yield graph


def _keras_seed_generator():
    """tf_keras' per-thread seed generator (``backend._SEED_GENERATOR``) if tf_keras is loaded, else ``None``."""
    backend = sys.modules.get("tf_keras.src.backend")
    return getattr(backend, "_SEED_GENERATOR", None)


def placeholder(dtype, shape, name: Optional[str] = None) -> tf.Tensor:
    """``tf.compat.v1.placeholder``; raises a clear error when called in eager mode (outside a graph)."""
    if tf.executing_eagerly():
        raise RuntimeError(
            "placeholder() needs graph mode: build inside `with legacy_rnn.new_graph():` or call "
            "tf.compat.v1.disable_eager_execution() first."
        )
    return v1.placeholder(dtype, shape, name=name)


def keep_prob_placeholder(name: str = "keep_prob") -> tf.Tensor:
    """``placeholder_with_default(1.0, [])``: feed 0.75 while training; inference needs no feed (no dropout)."""
    return v1.placeholder_with_default(tf.constant(1.0), [], name=name)


def new_session(graph: Optional[tf.Graph] = None, threads: int = 2, deterministic: bool = True) -> "v1.Session":
    """A ``tf.compat.v1.Session`` on ``graph`` for CPU machines.

    ``deterministic`` (default): one intra-op and one inter-op thread, so ops run one at a time in a fixed order.
    Otherwise the stateful random ops of a ``DropoutWrapper`` inside ``dynamic_rnn``'s ``while_loop`` draw their
    masks in whatever order the loop iterations reach them (measured: same graph seed, different losses from the
    fourth step with 2 threads). ``deterministic=False``: ``threads`` intra- and inter-op threads, faster on big
    graphs, same seed no longer same numbers when the graph has random ops.
    """
    n = 1 if deterministic else threads
    config = v1.ConfigProto(intra_op_parallelism_threads=n, inter_op_parallelism_threads=n)
    return v1.Session(graph=graph, config=config)


def initialize(sess: "v1.Session") -> None:
    """``sess.run(global_variables_initializer())`` (and the local ones)."""
    sess.run([v1.global_variables_initializer(), v1.local_variables_initializer()])


def save(sess: "v1.Session", prefix: str | os.PathLike, global_step: Optional[int] = None,
         saver: Optional["v1.train.Saver"] = None) -> str:
    """``Saver().save(sess, prefix, global_step)``; returns the checkpoint prefix written."""
    saver = saver or v1.train.Saver()
    return saver.save(sess, os.fspath(prefix), global_step=global_step)


def restore_latest(sess: "v1.Session", directory: str | os.PathLike, saver: Optional["v1.train.Saver"] = None) -> str:
    """``saver.restore(sess, tf.train.latest_checkpoint(directory))`` with a clear error when there is none."""
    path = tf.train.latest_checkpoint(os.fspath(directory))
    if path is None:
        raise MigrationError(
            f"No checkpoint in {os.fspath(directory)!r}: expected a 'checkpoint' state file next to "
            "model.ckpt-N.index/.data files; train and save first, or pass the directory that holds them."
        )
    (saver or v1.train.Saver()).restore(sess, path)
    return path


def restore_renamed(sess: "v1.Session", checkpoint: str, name_map: Mapping[str, tf.Variable],
                    ignore_missing_vars: bool = False) -> None:
    """Restore graph variables from ``checkpoint`` under other names with tf-slim's ``assign_from_checkpoint_fn``.

    ``name_map`` maps checkpoint keys to this graph's variables, e.g. ``{v.op.name.replace('model/', '', 1): v for v
    in slim.get_variables_to_restore(include=['model'])}``. Names only: layouts are not transformed (a Keras export
    must first go through :func:`migration.converters.cell_to_tf1`).
    """
    import tf_slim as slim  # on first use: only this function needs tf_slim (0.1 s of imports)

    reader = tf.train.load_checkpoint(checkpoint)
    missing = [key for key in name_map if not reader.has_tensor(key)]
    if missing and not ignore_missing_vars:
        raise MigrationError(
            f"Checkpoint {checkpoint!r} has no tensors {missing[:5]}{'...' if len(missing) > 5 else ''}; "
            f"its keys are listed by `rnn-migrate inspect {checkpoint}`. Fix the name map or pass ignore_missing_vars=True."
        )
    slim.assign_from_checkpoint_fn(checkpoint, dict(name_map), ignore_missing_vars=ignore_missing_vars)(sess)
