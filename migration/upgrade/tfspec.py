"""TensorFlow's own upgrade specification (``tf_upgrade_v2``'s ``TFAPIChangeSpec``) as data for ``scan`` and ``upgrade``.

The installed TensorFlow ships the tables of its ``tf_upgrade_v2`` tool in ``tensorflow.tools.compatibility``:
symbol renames (``all_renames_v2``), keyword renames, argument reorders (``reorders_v2``), function transformers
(``tf.nn.dropout``'s keep_prob -> rate, ``tf.to_float``...), module deprecations (``tf.contrib``, ``tf.flags``) and
warnings. Importing it imports TensorFlow (seconds), so this module does not: ``python -m migration.upgrade.tfspec
--write`` extracts the tables once into the compact ``data/tf_upgrade_v2.json`` (plus, for each name, whether it exists
on the installed TensorFlow as ``tf.X`` and as ``tf.compat.v1.X``), and :func:`spec` loads that file lazily, once.
``tests/upgrade/test_tfspec.py`` regenerates the data from the installed TensorFlow and checks that the file is in sync.

Names are relative to ``tensorflow`` (``nn.dropout``); the transformers are code in TensorFlow, so only their names
are data here (what they do for the names ``upgrade`` handles is reimplemented in :mod:`migration.upgrade.plan`).
"""
from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass

from migration.upgrade import symbols

DATA = os.path.join(os.path.dirname(__file__), "data", "tf_upgrade_v2.json")


@dataclass(frozen=True)
class Spec:
    """The tables, relative names (``"nn.dropout"``)."""

    version: str
    renames: dict[str, str]  # old -> new ("log" -> "math.log", "placeholder" -> "compat.v1.placeholder")
    keyword_renames: dict[str, dict[str, str]]  # "reduce_sum" -> {"keep_dims": "keepdims", ...}
    reorders: dict[str, list[str | None]]  # "argmax" -> TF1 positional names (None: unchanged position)
    transformers: frozenset[str]  # names whose arguments change meaning (nn.dropout)
    module_deprecations: dict[str, tuple[str, str]]  # "contrib" -> (level, message)
    warnings: dict[str, tuple[str, str]]  # "summary.scalar" -> (level, message)
    in_tf2: frozenset[str]  # names that exist as tf.X on the installed TensorFlow
    in_v1: frozenset[str]  # names that exist as tf.compat.v1.X
    tf2_params: dict[str, list[str] | None]  # TF2 parameters of the keyword-renamed/reordered names (None: **kwargs)


def _rel_keys(table: dict) -> dict:
    return {k[3:]: v for k, v in table.items() if isinstance(k, str) and k.startswith("tf.")}


def _exists(root: object, rel: str) -> bool:
    obj = root
    for part in rel.split("."):
        try:
            obj = getattr(obj, part)
        except Exception:  # noqa: BLE001 - lazy loaders raise all sorts of errors for names that are gone
            return False
    return True


def _get(root: object, rel: str) -> object:
    for part in rel.split("."):
        root = getattr(root, part)
    return root


def _params(fn: object) -> list[str] | None:
    import inspect

    try:
        sig = inspect.signature(fn)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return [p.name for p in sig.parameters.values() if p.kind is not p.VAR_POSITIONAL]


def generate() -> dict:
    """Extract the tables from the installed TensorFlow (imports it: seconds). Raises ImportError without it."""
    import migration.core.tf_env  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    import tensorflow as tf
    from tensorflow.tools.compatibility import tf_upgrade_v2

    s = tf_upgrade_v2.TFAPIChangeSpec()
    renames = {k: v[3:] for k, v in _rel_keys(s.symbol_renames).items() if v.startswith("tf.")}
    keyword_renames = _rel_keys(s.function_keyword_renames)
    reorders = _rel_keys(s.function_reorders)
    transformers = sorted(_rel_keys({k: 1 for k in s.function_transformers}))
    messages: list[str] = []

    def msg(pair) -> list:
        level, text = pair
        if text not in messages:
            messages.append(text)
        return [level, messages.index(text)]

    module_deprecations = {k: msg(v) for k, v in _rel_keys(s.module_deprecations).items()}
    warnings = {k: msg(v) for k, v in _rel_keys(s.function_warnings).items()
                if isinstance(v, tuple) and len(v) == 2}
    names = set(renames) | set(renames.values()) | set(keyword_renames) | set(reorders) | set(transformers) | set(
        module_deprecations) | set(warnings)
    names |= {row for row in symbols.TABLE} | {"flags", "app.flags", "flags.FLAGS", "app.run", "summary.FileWriter"}
    names = {n for n in names if n and not n.startswith("compat.")} | {n[len("compat.vX."):] for n in renames.values()
                                                                     if n.startswith(("compat.v1.", "compat.v2."))}
    in_tf2 = sorted(n for n in names if _exists(tf, n))
    in_v1 = sorted(n for n in names if _exists(tf.compat.v1, n))
    tf2_params = {}
    for n in sorted((set(keyword_renames) | set(reorders) | set(transformers)) & set(in_tf2)):
        tf2_params[n] = _params(_get(tf, n))
    return {
        "comment": "Generated by `python -m migration.upgrade.tfspec --write` from the installed TensorFlow's "
                   "tensorflow.tools.compatibility.tf_upgrade_v2.TFAPIChangeSpec; do not edit by hand.",
        "tensorflow": tf.__version__,
        "renames": dict(sorted(renames.items())),
        "keyword_renames": dict(sorted(keyword_renames.items())),
        "reorders": dict(sorted(reorders.items())),
        "transformers": transformers,
        "module_deprecations": dict(sorted(module_deprecations.items())),
        "warnings": dict(sorted(warnings.items())),
        "messages": messages,
        "in_tf2": in_tf2,
        "in_v1": in_v1,
        "tf2_params": tf2_params,
    }


def dumps(data: dict) -> str:
    return json.dumps(data, indent=0, sort_keys=False, ensure_ascii=True) + "\n"


@functools.lru_cache(maxsize=1)
def spec() -> Spec:
    """The tables from ``data/tf_upgrade_v2.json`` (loaded once; a few milliseconds; no TensorFlow import)."""
    with open(DATA, encoding="utf-8") as fh:
        d = json.load(fh)
    messages = d["messages"]

    def pairs(table: dict) -> dict[str, tuple[str, str]]:
        return {k: (v[0], messages[v[1]]) for k, v in table.items()}

    return Spec(d["tensorflow"], d["renames"], d["keyword_renames"], d["reorders"], frozenset(d["transformers"]),
                pairs(d["module_deprecations"]), pairs(d["warnings"]), frozenset(d["in_tf2"]), frozenset(d["in_v1"]),
                d["tf2_params"])


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Extract tf_upgrade_v2's tables from the installed TensorFlow.")
    ap.add_argument("--write", action="store_true", help=f"write {DATA} (default: print a summary)")
    args = ap.parse_args(argv)
    data = generate()
    if args.write:
        os.makedirs(os.path.dirname(DATA), exist_ok=True)
        tmp = DATA + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(dumps(data))
        os.replace(tmp, DATA)
    print(f"tensorflow {data['tensorflow']}: {len(data['renames'])} renames, {len(data['keyword_renames'])} keyword "
          f"renames, {len(data['reorders'])} reorders, {len(data['transformers'])} transformers, "
          f"{len(data['module_deprecations'])} module deprecations, {len(data['warnings'])} warnings"
          + (f" -> {DATA}" if args.write else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
