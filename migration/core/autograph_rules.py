"""rnn-migrate's own layers and cells are traced as written: AutoGraph does not rewrite them.

Keras (``tf_keras`` for Keras 2, and the TF1 ``tf.compat.v1.nn.rnn_cell`` cells, whose ``__call__`` is tf_keras'
``base_layer_v1``) hands every call of a *subclassed* layer to AutoGraph (``tf_convert(self.call, ...)``): its source
is parsed and rewritten once per function, and every call inside the rewritten code then goes through
``converted_call``, which inspects the callee before running it. That is how Keras gives a user's ``call`` with
``if``/``for`` over tensors graph semantics. Every class in :mod:`legacy_rnn` and :mod:`modern_rnn` counts as
"subclassed" (only Keras' own modules do not), yet none but the Keras 2 decoders (:data:`CONVERTED`) needs
AutoGraph: they are TF1-era graph code written with
``tf.cond``/``tf.while_loop`` where a branch or loop depends on a tensor, as TF 1.x's own cells were, and they must
build the same graph in TF1 graph mode, in a Keras functional model and inside ``tf.function``. AutoGraph's own work
(rewriting each function once per process, then dispatching its inner calls) was 3.2 % of the CPU time of the
conversion, target and seq2seq tests; in a fresh process (a command) the first build of a TF1 graph or a Keras
model of our cells takes ~0.7 of the time without it (``docs/benchmarks.md``, "AutoGraph and our own layers").

:func:`exclude_own_packages` adds one AutoGraph ``DoNotConvert`` rule per package of :data:`PACKAGES` (the rules
AutoGraph keeps for ``collections``, ``numpy``, ``tensorflow`` itself and others), after a ``Convert`` rule for each
module of :data:`CONVERTED` (AutoGraph applies the first rule that matches). It is called when
:mod:`legacy_rnn` and :mod:`modern_rnn` are imported. A user's subclass that overrides ``call`` lives in the user's
module and is converted as before; methods it inherits from our classes are not. ``RNN_MIGRATE_AUTOGRAPH=1`` (set
before the import) leaves AutoGraph's rules as TensorFlow has them.
"""
from __future__ import annotations

from migration.core import env_flags

#: set to a non-empty value other than ``0``: AutoGraph converts our code as any user code
KEEP_ENV_VAR = "RNN_MIGRATE_AUTOGRAPH"

#: the top-level packages whose code AutoGraph leaves as written
PACKAGES: tuple[str, ...] = ("legacy_rnn", "modern_rnn")
#: modules of those packages written FOR AutoGraph, which keep its conversion: the Keras 2 decoders run eagerly as
#: Python loops and inside ``tf.function`` through AutoGraph (``if`` on a tensor there becomes ``tf.cond``)
CONVERTED: tuple[str, ...] = ("modern_rnn.seq2seq",)


def exclude_own_packages() -> tuple[str, ...]:
    """Add AutoGraph's ``DoNotConvert`` rule for each of :data:`PACKAGES` that has none yet (idempotent); return the
    packages AutoGraph now leaves alone. Imports TensorFlow's AutoGraph configuration (TensorFlow is loaded by then).
    """
    if env_flags.is_set(KEEP_ENV_VAR):
        return excluded()
    from tensorflow.python.autograph.core import config, config_lib

    ruled = {rule._prefix for rule in config.CONVERSION_RULES}
    missing = (tuple(config_lib.Convert(name) for name in CONVERTED if name not in ruled)  # first match wins
               + tuple(config_lib.DoNotConvert(name) for name in PACKAGES if name not in ruled))
    if missing:
        config.CONVERSION_RULES = missing + tuple(config.CONVERSION_RULES)
    return excluded()


def excluded() -> tuple[str, ...]:
    """The packages of :data:`PACKAGES` that AutoGraph's rules currently leave as written."""
    from tensorflow.python.autograph.core import config, config_lib

    ruled = {rule._prefix for rule in config.CONVERSION_RULES if isinstance(rule, config_lib.DoNotConvert)}
    return tuple(name for name in PACKAGES if name in ruled)
