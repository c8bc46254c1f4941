"""Side by side with TensorFlow's own ``tf_upgrade_v2`` (issue 21): wherever it rewrites a ``tf.contrib`` symbol to a
name that exists on the installed TensorFlow, ``upgrade --to compat`` leaves no ``tf.contrib`` there either.

Both tools run here, on one program holding every ``tf.contrib`` entry of ``tf_upgrade_v2``'s tables (its renames
and its function transformers), one per line: a transformer is called with arguments TF 1.x accepted, a rename is
referenced. ``tf_upgrade_v2`` is the installed ``tensorflow.tools.compatibility`` API; whether its target exists is
checked on the installed TensorFlow, not read from our data file (that data file missed the ``compat.v2`` targets:
``tf.contrib.summary.create_file_writer`` / ``flush`` were left as manual checks; ``generic`` and
``always_record_summaries`` / ``never_record_summaries`` had no rewrite). TensorFlow's own ``tf_upgrade_v2_test.py``
does not ship with the wheel (and its code stays out of this repository), so the cases are generated from the tables.
"""
from __future__ import annotations

import re

import pytest

import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from migration.upgrade import upgrade_source
from migration.upgrade.tfspec import spec

S = spec()
CONTRIB = sorted({k for k in S.renames if k.startswith("contrib.")} | {k for k in S.transformers
                                                                     if k.startswith("contrib.")})
NO_ARGUMENTS = {"contrib.summary.always_record_summaries", "contrib.summary.never_record_summaries"}


def _use(rel: str) -> str:
    if rel not in S.transformers:
        return f"tf.{rel}"
    return f"tf.{rel}()" if rel in NO_ARGUMENTS else f"tf.{rel}('n', x)"


def _exists(line: str) -> bool:
    """The dotted ``tf.`` name ``tf_upgrade_v2`` wrote on an ``yN = ...`` line exists on the installed TensorFlow."""
    import tensorflow as tf

    obj = tf
    for part in re.match(r"y\d+ = tf((?:\.\w+)+)", line).group(1).split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return True


def _by_variable(code: str) -> dict[str, str]:
    return {line.split(" = ")[0]: line for line in code.splitlines() if re.match(r"y\d+ = ", line)}


@pytest.fixture(scope="module")
def both() -> tuple[dict, dict]:
    from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2

    source = "import tensorflow as tf\n" + "".join(f"y{i} = {_use(rel)}\n" for i, rel in enumerate(CONTRIB))
    _, theirs, _, _ = ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec()).update_string_pasta(source, "in.py")
    return _by_variable(theirs), _by_variable(upgrade_source(source, "compat").code)


def _worse(theirs: dict, ours: dict) -> list[str]:
    return [f"{CONTRIB[int(k[1:])]}: tf_upgrade_v2 `{theirs[k]}`, rnn-migrate `{ours.get(k)}`" for k in sorted(theirs)
            if "tf.contrib" not in theirs[k] and _exists(theirs[k]) and "tf.contrib" in ours.get(k, "tf.contrib")]


def test_never_worse_than_tf_upgrade_v2_on_its_contrib_entries(both):
    theirs, ours = both
    assert len(CONTRIB) > 90 and len(theirs) == len(ours) == len(CONTRIB)
    rewritten = sum("tf.contrib" not in line and _exists(line) for line in theirs.values())
    assert rewritten > 80  # the comparison is not vacuous
    assert _worse(theirs, ours) == []


def test_the_summary_entries_the_data_file_missed_are_rewritten(both):
    _, ours = both
    got = {CONTRIB[int(k[1:])]: line.split(" = ", 1)[1] for k, line in ours.items() if ".summary." in line}
    assert got["contrib.summary.create_file_writer"] == "tf.compat.v2.summary.create_file_writer"
    assert got["contrib.summary.flush"] == "tf.compat.v2.summary.flush"
    assert got["contrib.summary.always_record_summaries"] == "tf.compat.v2.summary.record_if(True)"
    assert got["contrib.summary.never_record_summaries"] == "tf.compat.v2.summary.record_if(False)"
    assert got["contrib.summary.generic"] == ("tf.compat.v2.summary.write(tag='n', data=x, "
                                              "step=tf.compat.v1.train.get_or_create_global_step())")


def test_negative_control_a_contrib_symbol_left_behind_is_caught(both):
    theirs, ours = both
    key = next(k for k, line in theirs.items() if "tf.contrib" not in line and _exists(line))
    assert _worse(theirs, {**ours, key: f"{key} = tf.{CONTRIB[int(key[1:])]}"}) != []
