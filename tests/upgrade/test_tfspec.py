"""The data file of TensorFlow's own upgrade spec (migration/upgrade/data/tf_upgrade_v2.json) is in sync with the
installed TensorFlow's ``tensorflow.tools.compatibility.tf_upgrade_v2.TFAPIChangeSpec``, and the tables drive scan and
upgrade (a name picked from the spec, not from rnn-migrate's own table, is rewritten)."""
from __future__ import annotations

import json

import pytest

import migration  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from migration.upgrade import tfspec, upgrade_source
from migration.upgrade.scan import scan_source
from migration.upgrade.symbols import TABLE

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("tfspec")


@pytest.fixture(scope="module")
def generated() -> dict:
    pytest.importorskip("tensorflow.tools.compatibility.tf_upgrade_v2")
    return tfspec.generate()


def test_data_file_is_in_sync_with_installed_tensorflow(generated):
    with open(tfspec.DATA, encoding="utf-8") as fh:
        stored = json.load(fh)
    assert stored["tensorflow"] == generated["tensorflow"]
    for key in generated:
        assert stored[key] == generated[key], (
            f"{key} differs from the installed TensorFlow's spec: run `python -m migration.upgrade.tfspec --write`")


def test_spec_tables_match_tensorflow_and_are_used(generated):
    s = tfspec.spec()
    assert len(s.renames) > 900 and s.renames["global_variables"] == "compat.v1.global_variables"
    assert s.keyword_renames["reduce_sum"] == {"reduction_indices": "axis", "keep_dims": "keepdims"}
    assert "nn.dropout" in s.transformers and "flags" in s.module_deprecations
    assert s.tf2_params["nn.dropout"][:2] == ["x", "rate"]
    assert "placeholder" in s.in_v1 and "placeholder" not in s.in_tf2 and "nn.dropout" in s.in_tf2
    # names that only the spec knows (not in the RNN table) are rewritten and reported
    for rel in ("sparse_placeholder", "add_to_collection", "GraphKeys", "losses.log_loss"):
        assert rel not in TABLE and rel in s.renames, rel
        code = upgrade_source(f"import tensorflow as tf\nx = tf.{rel}\n", "compat").code
        assert f"x = tf.compat.v1.{rel}\n" in code, rel
        assert [f.symbol for f in scan_source(f"import tensorflow as tf\nx = tf.{rel}\n")] == [f"tf.{rel}"]


def test_negative_control_a_stale_table_is_detected(generated):
    """The sync check can fail: a data file missing one rename differs from the installed spec."""
    with open(tfspec.DATA, encoding="utf-8") as fh:
        stale = json.load(fh)
    stale["renames"].pop("global_variables")
    assert stale["renames"] != generated["renames"]


def test_loading_the_spec_never_imports_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from migration.upgrade.tfspec import spec; s = spec(); "
            "assert 'tensorflow' not in sys.modules; print(len(s.renames))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 900
