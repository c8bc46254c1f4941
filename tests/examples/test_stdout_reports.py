"""Results on stdout, progress and messages on stderr, for the examples too: `rnn-migrate example keras_api > out.txt`
keeps the report in out.txt (it went to stderr, leaving the file empty); with --json stdout holds the JSON object
alone and the report's lines go to stderr."""
from __future__ import annotations

import json
import re

import numpy as np

from migration import cli
from migration.examples import keras_api
from tests.ux import run_cli_in_process

ROWS = ("LSTM(1) ", "Bidirectional(LSTM(1))", "GRU: ", "max |diff| to the seed's numbers")


def test_example_report_redirected_to_a_file(tmp_path):
    """The command in this process, stdout and stderr (file descriptor 2 too) captured apart: where the report goes is
    the command's choice, not the process start-up's (a fresh ``python -m migration`` only added a TensorFlow
    import; tests/examples/test_ux_examples.py runs keras_api in a fresh process)."""
    proc = run_cli_in_process("example", "keras_api", cwd=tmp_path)
    code, text, errors = proc.returncode, proc.stdout, proc.stderr
    assert code == 0, errors[-2000:]
    for row in ROWS:
        assert row in text and row not in errors, (row, text, errors)
    # the real report: the LSTM(1) row's Keras number is the seed's published one
    line = next(line for line in text.splitlines() if line.startswith("LSTM(1) "))
    keras_value = float(re.search(r"keras \[([-\d.]+)\]", line).group(1))
    np.testing.assert_allclose(keras_value, keras_api.SEED_001["lstm_last"], atol=1e-6)


def test_example_json_keeps_stdout_for_the_json_alone(capsys):
    assert cli.main(["example", "keras_api", "--json", "--quiet"]) == 0
    printed = capsys.readouterr()
    lines = printed.out.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["example"] == "keras_api"
    for row in ROWS:
        assert row in printed.err
