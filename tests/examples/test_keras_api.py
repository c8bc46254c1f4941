"""migration.examples.keras_api (seed 001): the published numbers on both sides, the GRU caveat, the CLI contract."""
from __future__ import annotations

import json

import numpy as np
import pytest

from migration.examples import keras_api

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("keras_api")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One run through the real dispatcher: ``rnn-migrate example keras_api --json --plot ... --logdir ...``."""
    from migration import cli

    tmp = tmp_path_factory.mktemp("keras_api")
    capture = pytest.MonkeyPatch()
    import io
    import sys

    out = io.StringIO()
    capture.setattr(sys, "stdout", out)
    try:
        code = cli.main(["example", "keras_api", "--json", "--plot", str(tmp / "api.png"), "--logdir", str(tmp / "tb")])
    finally:
        capture.undo()
    return code, json.loads(out.getvalue().strip().splitlines()[-1]), tmp


@pytest.mark.parametrize("side", ["keras", "tf1"])
@pytest.mark.parametrize("key", sorted(keras_api.SEED_001))
def test_numbers_equal_the_seed_within_1e6(cli_run, side, key):
    code, result, _ = cli_run
    assert code == 0
    np.testing.assert_allclose(result[side][key], keras_api.SEED_001[key], atol=1e-6, rtol=0)


def test_return_state_and_two_layer_consistency(cli_run):
    _, result, _ = cli_run
    k, t = result["keras"], result["tf1"]
    assert k["lstm_state_h"] == pytest.approx(k["lstm_last"], abs=1e-7)  # h is the last output
    np.testing.assert_allclose(k["lstm_state_c"], t["lstm_state_c"], atol=1e-6)  # c matches although TF1 orders (c, h)
    assert k["lstm2_sequence"][-1] == pytest.approx(k["lstm2_last"][0], abs=1e-7)


def test_gru_default_versus_tf1(cli_run):
    _, result, _ = cli_run
    # one unit, zero biases: the degenerate case where reset_after=True equals the TF1 GRUCell and reset_after=False
    np.testing.assert_allclose(result["keras"]["gru_reset_after_false_sequence"], keras_api.SEED_001["gru_sequence"],
                               atol=1e-6, rtol=0)
    general = result["gru_general"]
    assert general["reset_after_false_max_abs_diff"] < 1e-6
    assert general["reset_after_true_max_abs_diff"] > 1e-2  # the general case cannot match
    assert "reset_after" in result["gru_note"]


def test_plot_and_logdir(cli_run):
    _, _, tmp = cli_run
    data = (tmp / "api.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    assert list((tmp / "tb" / "legacy").glob("events.out.tfevents.*"))
    assert list((tmp / "tb" / "modern").glob("events.out.tfevents.*"))


def test_forget_bias_must_leave_the_tf1_bias():
    """Negative control: copying the Keras bias (b_f = 1) into TF1 without taking forget_bias out counts it twice."""
    _, weights = keras_api.keras_numbers()
    import legacy_rnn
    from migration.converters import cell_to_tf1
    from migration.core.specs import CellSpec

    wrong = cell_to_tf1(CellSpec("basic_lstm", 1, forget_bias=1.0), weights["lstm"], include_forget_bias=False)

    def build(x):
        return legacy_rnn.dynamic_rnn(legacy_rnn.basic_lstm_cell(1, forget_bias=1.0), x)[0]

    seq = keras_api._run_tf1(build, lambda: {f"rnn/basic_lstm_cell/{k}": v for k, v in wrong.items()})
    assert np.abs(seq.ravel() - keras_api.SEED_001["lstm_sequence"]).max() > 1e-3
