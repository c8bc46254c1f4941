"""Wherever TensorFlow's own tf_upgrade_v2 rewrites a tf.contrib symbol to something that exists on TF 2.21,
``upgrade --to compat`` rewrites it too (to that target or to a home of ours), never leaving ``tf.contrib`` behind."""
from __future__ import annotations

import pytest

from migration.upgrade import upgrade_source
from migration.upgrade.tfspec import spec


def _exists(target: str, s) -> bool:
    if target.startswith("compat.v1."):
        return target[len("compat.v1."):] in s.in_v1
    if target.startswith("compat.v2."):
        return target[len("compat.v2."):] in s.in_tf2
    return target in s.in_tf2


S = spec()
CONTRIB = sorted(k for k, v in S.renames.items() if k.startswith("contrib.") and _exists(v, S))


def test_the_spec_has_contrib_rewrites():
    assert len(CONTRIB) > 40  # the data is there (a broken extraction would make every case below vacuous)


@pytest.mark.parametrize("rel", CONTRIB)
def test_no_contrib_symbol_left_where_tf_upgrade_v2_rewrites(rel):
    args = "()" if rel.endswith("_record_summaries") else "('n', x)"  # TF 1.x's always/never_record_summaries()
    use = f"tf.{rel}{args}" if rel in S.transformers else f"tf.{rel}"  # a transformer rewrites the call
    result = upgrade_source(f"import tensorflow as tf\ny = {use}\n", "compat")
    assert "tf.contrib" not in result.code, (rel, result.code.splitlines()[-1], [str(m) for m in result.manual_checks])
