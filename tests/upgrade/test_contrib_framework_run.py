"""``tf.contrib.framework``'s home (``legacy_rnn.contrib_framework``, what ``upgrade --to compat`` writes for it) does
what TF 1.15 did, in a real TF1 graph: model variables and their collections, ``get_variables_to_restore`` with
include/exclude, ``arg_scope`` over an ``add_arg_scope`` function, one global step, and
``assign_from_checkpoint_fn`` restoring a real ``Saver`` checkpoint (issue 21, "homes for the non-RNN tf.contrib").
Negative controls: excluded scopes are not restored, a variable missing from the checkpoint is an error unless
``ignore_missing_vars``."""
from __future__ import annotations

import numpy as np
import pytest

import legacy_rnn.contrib_framework as framework
from migration.upgrade import upgrade_source

tf, v1 = framework.tf, framework.v1


def test_upgrade_writes_this_home():
    src = "import tensorflow as tf\nv = tf.contrib.framework.get_variables_to_restore()\n"
    code = upgrade_source(src, "compat").code
    assert "v = legacy_rnn.contrib_framework.get_variables_to_restore()" in code


def test_variables_arg_scope_global_step_and_restore(tmp_path):
    saved = {"enc/w": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5, "head/b": np.array([0.5, -1.5], np.float32)}
    with tf.Graph().as_default():
        with v1.variable_scope("enc"):
            w = framework.model_variable("w", [2, 3], initializer=v1.constant_initializer(saved["enc/w"]))
        with v1.variable_scope("head"):
            b = framework.variable("b", [2], initializer=v1.constant_initializer(saved["head/b"]))
        step = framework.get_or_create_global_step()
        with v1.Session() as s:
            s.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(s, str(tmp_path / "ckpt"))
    assert framework.nest.flatten({"a": (1, 2), "b": [3]}) == [1, 2, 3]

    @framework.add_arg_scope
    def scaled(x, factor=1.0):
        return x * factor

    with tf.Graph().as_default():
        with v1.variable_scope("enc"):
            w = framework.model_variable("w", [2, 3], initializer=v1.zeros_initializer())
        with v1.variable_scope("head"):
            b = framework.variable("b", [2], initializer=v1.zeros_initializer())
            extra = framework.variable("extra", [1], initializer=v1.zeros_initializer())
        assert framework.get_or_create_global_step() is framework.get_or_create_global_step()
        assert [v.op.name for v in framework.get_model_variables()] == ["enc/w"]
        assert [v.op.name for v in framework.get_variables("head")] == ["head/b", "head/extra"]
        restore = framework.get_variables_to_restore(exclude=["head/extra", "global_step"])
        assert sorted(v.op.name for v in restore) == ["enc/w", "head/b"]
        with framework.arg_scope([scaled], factor=3.0):
            tripled = scaled(tf.constant(2.0))
        init = framework.assign_from_checkpoint_fn(prefix, restore)
        with v1.Session() as s:
            s.run(v1.global_variables_initializer())
            init(s)
            got_w, got_b, got_extra, got_tripled = s.run([w, b, extra, tripled])
            with pytest.raises(Exception, match="extra"):  # not in the checkpoint
                framework.assign_from_checkpoint_fn(prefix, framework.get_variables("head"))(s)
            framework.assign_from_checkpoint_fn(prefix, framework.get_variables("head"), ignore_missing_vars=True)(s)
    np.testing.assert_array_equal(got_w, saved["enc/w"])
    np.testing.assert_array_equal(got_b, saved["head/b"])
    np.testing.assert_array_equal(got_extra, [0.0])  # excluded: kept its own initial value
    assert got_tripled == 6.0
