"""The ``optimizer`` section of convert's manifest: which tf_keras optimizer resumes each TF1 one, with which
constants (from the ``.meta``, else TF1's defaults, said as assumed), Adam's iteration count, the slot roles, and
what a Keras step from the converted slots cannot reproduce. The slots themselves are converted with their
variables (:class:`migration.checkpoint.convert.Converter`).
"""
from __future__ import annotations

import math
from typing import Any, Optional

from migration.checkpoint.recognize import KERAS_OPTIMIZERS
from migration.core.errors import MigrationError

_KERAS_OPTIMIZERS = {"adam": "Adam", "adagrad": "Adagrad", "momentum": "SGD", "rmsprop": "RMSprop"}
#: TF1 constant name in the .meta -> (tf_keras argument, TF1's default) for the optimizers of KERAS_OPTIMIZERS
_OPTIMIZER_CONSTANTS = {
    "ftrl": (("learning_rate", "learning_rate", 0.001), ("learning_rate_power", "learning_rate_power", -0.5),
             ("l1_regularization_strength", "l1_regularization_strength", 0.0),
             ("l2_regularization_strength", "l2_regularization_strength", 0.0),
             ("l2_shrinkage_regularization_strength", "l2_shrinkage_regularization_strength", 0.0),
             ("beta", "beta", 0.0)),
    "adadelta": (("lr", "learning_rate", 0.001), ("rho", "rho", 0.95), ("epsilon", "epsilon", 1e-8)),
}
#: what a Keras step from the converted slots cannot reproduce (measured: tests/checkpoint/test_ckpt_resume.py)
_RESUME_TRAPS = {
    "ftrl": ["embeddings: TF1's sparse Ftrl update touched only the rows looked up; tf_keras' Ftrl recomputes every "
             "row from its `linear` slot (rows Ftrl never updated jump to their l1/l2 solution)",
             "LSTM biases: Keras holds forget_bias folded into the bias and Ftrl's l1/l2 pull towards 0 are not "
             "invariant under that shift, so the forget-gate bias moves differently from TF1's"],
    "adadelta": ["embeddings: TF1's sparse Adadelta update decayed the accumulators of the rows looked up only; "
                 "tf_keras' decays every row's, so later steps on other rows differ"],
}
_KERAS_SLOT = {("adam", "m"): "m", ("adam", "v"): "v", ("adagrad", "accumulator"): "accumulator",
               ("momentum", "momentum"): "momentum", ("rmsprop", "rms"): "velocity",
               ("rmsprop", "momentum"): "momentum", ("rmsprop", "mg"): "average_gradient"}


def adam_iterations(conv, key: str, beta1: float) -> Optional[int]:
    """Adam's step count from ``beta1_power = beta1 ** (t + 1)``; a value no real run gives is refused (with
    ``--with-optimizer``) or noted (without: the optimizer state is not migrated anyway)."""
    array = conv.read(key)
    power = float(array) if array.size == 1 else float("nan")
    problem = None
    if array.size != 1:
        problem = f"{key!r} holds {array.size} values instead of one"
    elif not (math.isfinite(power) and 0.0 < power < 1.0):
        problem = f"{key!r} = {power!r}, which no Adam run produces (beta1 ** (t + 1) lies in (0, 1))"
    elif not (math.isfinite(beta1) and 0.0 < beta1 < 1.0):
        problem = f"Adam beta1 = {beta1!r} from the .meta is outside (0, 1)"
    if problem is None:
        return max(int(round(math.log(power) / math.log(beta1))) - 1, 0)
    if conv.with_optimizer:
        raise MigrationError(f"Cannot recover Adam's iteration count: {problem}. The checkpoint's optimizer state "
                             "is damaged; convert without --with-optimizer (weights only).")
    conv.notes.append(f"Adam iterations unknown: {problem}")
    return None


def optimizer_section(conv) -> Optional[dict[str, Any]]:
    """The manifest's ``optimizer`` section: each TF1 optimizer, its tf_keras configuration (constants from the
    ``.meta``, TF1's defaults said as assumed), Adam's step count, the slot roles; slots not migrated are named so."""
    if not conv.insp.optimizers:
        return None
    out = []
    for opt in conv.insp.optimizers:
        entry: dict[str, Any] = {"kind": opt.kind, "tf1_name": opt.name, "constants_from_meta": opt.constants,
                                 "migrated": conv.with_optimizer}
        keras_cfg: dict[str, Any] = {"class": _KERAS_OPTIMIZERS.get(opt.kind)}
        if "learning_rate" in opt.constants:
            keras_cfg["learning_rate"] = opt.constants["learning_rate"]
        if opt.kind == "adam":
            beta1 = opt.constants.get("beta1", 0.9)
            keras_cfg.update(beta_1=beta1, beta_2=opt.constants.get("beta2", 0.999),
                             epsilon=opt.constants.get("epsilon", 1e-8))
            iterations, source = None, None
            if conv.insp.global_step:
                iterations, source = int(conv.read(conv.insp.global_step)), "global_step"  # an int scalar
            elif "beta1_power" in opt.counters:
                iterations, source = adam_iterations(conv, opt.counters["beta1_power"], beta1), "beta1_power"
            for name, key in opt.counters.items():
                conv.destinations[key] = f"manifest optimizer[{opt.kind}].iterations (from {name})"
            entry["iterations"], entry["iterations_source"] = iterations, source
        elif opt.kind == "adagrad":
            keras_cfg.update(epsilon=0.0, initial_accumulator_value=0.1)
        elif opt.kind in KERAS_OPTIMIZERS:  # Ftrl, Adadelta: TF1's values, from the .meta where it has them
            cls, _, defaults = KERAS_OPTIMIZERS[opt.kind]
            keras_cfg["class"] = cls
            keras_cfg.update(defaults)
            assumed = []
            for tf1, keras_name, default in _OPTIMIZER_CONSTANTS[opt.kind]:
                if tf1 in opt.constants:
                    keras_cfg[keras_name] = opt.constants[tf1]
                else:
                    keras_cfg[keras_name] = default
                    assumed.append(f"{keras_name}={default} (TF1 default, not in the .meta)")
            entry["assumed"] = assumed
            entry["notes"] = _RESUME_TRAPS[opt.kind]
        entry["keras"] = keras_cfg
        entry["slot_roles"] = {role: _KERAS_SLOT.get((opt.kind, role))
                               or KERAS_OPTIMIZERS.get(opt.kind, ("", {}, {}))[1].get(role, role)
                               for roles in opt.slots.values() for role in roles}
        out.append(entry)
        if not conv.with_optimizer:
            for roles in opt.slots.values():
                for key in roles.values():
                    conv.destinations.setdefault(key, "not migrated (pass --with-optimizer)")
    if conv.insp.global_step:
        conv.destinations.setdefault(conv.insp.global_step, "manifest optimizer iterations")
    return {"optimizers": out}
