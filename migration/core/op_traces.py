"""Graph ops built by rnn-migrate's own processes carry no recorded Python stack.

TensorFlow records, for every op it adds to a graph (a TF1 graph, a ``tf.function`` or a Keras model's symbolic
call), the Python stack that created it (``tf_stack.extract_stack`` in ``ops._create_c_op``, a walk of every frame
up to the interpreter's root), so that a later runtime error can say where the failing op was defined. Measured, a
two-layer ``dynamic_rnn`` LSTM with its gradients builds in ~20 % less CPU time without it (``docs/benchmarks.md``,
"Op stack traces"). rnn-migrate's own processes build many graphs of their own (the Keras models of a conversion
are traced when they are built, and again when every written file is loaded back and checked), and nothing in them
reads the traces: a failure there becomes a :class:`~migration.core.errors.MigrationError` naming the file,
variable or block.

:func:`skip` is called by the same entry points as :func:`migration.core.gc_tuning.tune` (``rnn-migrate`` / ``python
-m migration``, the sandbox child, the distributed example's children) and by the test workers, never on ``import
migration``: a program that uses the project as a library keeps TensorFlow's traces, and ``rnn-migrate run`` starts
the user's program in a fresh interpreter that has them too (a TF1 program's own errors say where its ops were
defined). Ops then carry no trace (``op.traceback`` is ``None``, as for ops read from a ``GraphDef``): TensorFlow's
runtime errors still name the op and say what failed, without the "defined at" lines. Two of TensorFlow's own
error paths read a trace unguarded and then fail with a ``TypeError``/``AttributeError`` in place of their message:
re-creating an existing TF1 reference variable with ``reuse=False``, and a tensor used outside its ``tf.function``;
both are programming errors in code rnn-migrate runs, not in the user's checkpoint or graph.
``RNN_MIGRATE_OP_TRACEBACKS=1`` keeps TensorFlow's recording.

This module never imports TensorFlow: before TensorFlow is imported, a one-shot import hook applies the change as
``tensorflow.python.framework.ops`` loads (``--help`` and ``scan`` start as fast as before).
"""
from __future__ import annotations

import sys
import types

from migration.core import env_flags, import_hooks

ENV_VAR = "RNN_MIGRATE_OP_TRACEBACKS"
_OPS = "tensorflow.python.framework.ops"


def _keep() -> bool:
    return env_flags.is_set(ENV_VAR)


def _install(ops: types.ModuleType) -> None:
    """Make ``ops._create_c_op`` (TensorFlow's ``framework/ops.py``; every op a Python graph gets is made there)
    pass ``extract_traceback=False``: the op gets no trace at all, as an op read from a ``GraphDef``. (One shared
    empty trace for every op is not an option: TensorFlow takes ownership of each, and an error report then crashed.)"""
    real = ops._create_c_op
    if getattr(real, "_rnn_migrate_real", None) is not None:
        return

    def create_c_op(graph, node_def, inputs, control_inputs, op_def=None, extract_traceback=True):
        return real(graph, node_def, inputs, control_inputs, op_def=op_def, extract_traceback=False)

    create_c_op._rnn_migrate_real = real
    ops._create_c_op = create_c_op


class _Loader(import_hooks.LoaderWrapper):
    def exec_module(self, module: types.ModuleType) -> None:
        _remove_hook()
        self._loader.exec_module(module)
        _install(module)


class _Hook(import_hooks.OneModuleFinder):
    """A meta-path finder for TensorFlow's ``framework/ops.py`` alone (removed by its first import)."""

    fullname = _OPS
    wrapper = _Loader


def _remove_hook() -> None:
    import_hooks.remove(_Hook)


def skip() -> bool:
    """Stop recording ops' Python stacks in this process (see the module docstring): at once if TensorFlow is
    imported, else as it is. Returns whether ops go without traces from now on (False under ``RNN_MIGRATE_OP_TRACEBACKS``).
    Idempotent."""
    if _keep():
        return False
    ops = sys.modules.get(_OPS)
    if ops is not None:
        _install(ops)
    else:
        import_hooks.install(_Hook)
    return True


def restore() -> None:
    """TensorFlow's own recording again (a no-op when it was never changed)."""
    _remove_hook()
    ops = sys.modules.get(_OPS)
    real = getattr(getattr(ops, "_create_c_op", None), "_rnn_migrate_real", None)
    if real is not None:
        ops._create_c_op = real


def skipped() -> bool:
    """Whether ops built from now on in this process go without a recorded stack."""
    ops = sys.modules.get(_OPS)
    if ops is None:
        return import_hooks.installed(_Hook)
    return getattr(ops._create_c_op, "_rnn_migrate_real", None) is not None
