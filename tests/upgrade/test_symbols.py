"""The symbols table against the installed TensorFlow 2.21: every compat home exists, every "moved" name is really
gone from TF2, every "in TF2" name is really there (so a wrong row fails here, not in a user's program)."""
from __future__ import annotations

import functools

import pytest

import migration  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported)
from migration.upgrade import homes, symbols


@functools.lru_cache(maxsize=1)
def _tf():
    import tensorflow as tf

    return tf


def _get(path: str):
    obj = _tf()
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _exists(path: str) -> bool:
    try:
        _get(path)
        return True
    except AttributeError:
        return False


ROWS = sorted(symbols.TABLE.values(), key=lambda r: r.name)


@pytest.mark.parametrize("row", [r for r in ROWS if r.compat_home()], ids=lambda r: r.name)
def test_compat_home_exists_on_tf221(row):
    assert _exists(row.compat_home()), f"tf.{row.compat_home()} does not exist"


# "train.Optimizer" stands for the pattern train.*Optimizer, not one symbol: it has no single existence to check
@pytest.mark.parametrize("row", [r for r in ROWS if not r.name.startswith("contrib") and r.name != "train.Optimizer"],
                         ids=lambda r: r.name)
def test_in_tf2_flag_matches_tf221(row):
    assert _exists(row.name) == row.in_tf2, f"tf.{row.name}: in_tf2={row.in_tf2} is wrong"


def test_contrib_is_gone_and_names_left_alone_exist():
    assert not _exists("contrib")
    for name in ("concat", "matmul", "one_hot", "unstack", "zeros", "tanh", "reshape", "nn.softmax",
                 "nn.sparse_softmax_cross_entropy_with_logits", "reduce_mean", "train.latest_checkpoint"):
        assert _exists(name), name
        assert homes.compat_home(name) is None, name


def test_every_row_has_an_anchor_from_the_list_and_a_replacement():
    for row in ROWS:
        assert row.anchor in symbols.ANCHORS and row.replacement, row.name
        assert row.doc == f"docs/api-map.md#{row.anchor}"
