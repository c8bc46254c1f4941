"""End-to-end: complete TF1 programs (tests/upgrade/fixtures/programs, written for these tests) are upgraded with
``upgrade --to compat`` and RUN on TensorFlow 2.21, each in one fresh subprocess with TF_USE_LEGACY_KERAS unset (the
bootstrap the upgrade adds must set it), on tiny generated data for a few steps. The fresh processes share their
TensorFlow import (tests/upgrade/program_runner.py: a zygote started with TF_USE_LEGACY_KERAS unset runs the
program's own bootstrap, imports TensorFlow and forks one child per program; a program with another bootstrap gets
its own zygote, and ``test_runner_honours_a_missing_bootstrap`` is the negative control).

Each program prints one ``RESULT {json}`` line; the checks are on what the program computed (the loss went down, the
dropout at evaluation is the identity, a restored checkpoint predicts the same, summaries were written...).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from migration.upgrade import upgrade_source
from migration.upgrade.notebook_rewrite import upgrade_notebook
from migration.upgrade.notebooks import is_cell_magic, is_magic
from tests.upgrade.program_runner import GROUP, program_env

PROGRAMS = Path(__file__).parent / "fixtures" / "programs"
DROPOUT_EDIT = "tf.nn.dropout(state, 1 - self.dropout_keep_prob)"


# one xdist worker runs every program-running test of tests/upgrade: one zygote per prelude serves them all
pytestmark = pytest.mark.xdist_group(GROUP)


@pytest.fixture
def run_program(program_runner, tmp_path):
    """``run_program(code)``: the program's RESULT dict (run as ``python prog.py`` in ``tmp_path``, exit 0)."""
    def run(code: str, name: str = "prog.py") -> dict:
        return _result(program_runner.run(code, tmp_path, program_env(), name))
    return run


def _result(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, proc.stdout[-2000:]
    return json.loads(lines[0][len("RESULT "):])


def upgraded(name: str) -> str:
    result = upgrade_source((PROGRAMS / name).read_text(encoding="utf-8"), "compat", name)
    assert result.manual_checks == [], [str(m) for m in result.manual_checks]
    return result.code


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _learnt(losses: list[float], factor: float) -> None:
    assert all(math.isfinite(v) for v in losses)
    assert _mean(losses[-5:]) < factor * _mean(losses[:5]), (losses[:5], losses[-5:])


@pytest.mark.slow
def test_tutorial_rnn_classifier(run_program):
    r = run_program(upgraded("tutorial_rnn_classifier.py"))
    _learnt(r["losses"], 0.6)
    assert r["test_acc"] > 0.5  # 4 classes: chance is 0.25


@pytest.mark.slow
def test_language_model_with_monkeypatch_idiom(run_program):
    code = upgraded("lm_monkeypatch.py")
    # the shims themselves: targets and values point at TF 2.21 homes; every later use was still seen
    assert "tf.nn.rnn = tf.compat.v1.nn.static_rnn\n" in code
    assert "tf.compat.v1.nn.rnn_cell.GRUCell = tf.compat.v1.nn.rnn_cell.GRUCell\n" in code
    assert "tf.compat.v1.placeholder(tf.int32" in code and "tf.compat.v1.nn.static_rnn(cell, steps" in code
    r = run_program(code)
    _learnt(r["losses"], 0.5)
    assert "rnn/gru_cell/gates/kernel:0" in r["variables"]  # TF1 static_rnn + GRUCell variable names


@pytest.mark.slow
def test_text_classifier_flags_summaries_dropout(run_program, tmp_path):
    code = upgraded("text_rnn_flags.py")
    assert code.count(DROPOUT_EDIT) == 1 and "FLAGS(sys.argv, known_only=True)" in code
    assert "FLAGS.flag_values_dict().items()" in code and "tf.compat.v1.summary.FileWriter" in code
    r = run_program(code)
    _learnt(r["losses"], 0.3)
    # evaluation feeds keep_prob = 1.0: the dropout must be the identity (TF2's `rate` = 1.0 would zero everything)
    assert r["eval_zero_fraction"] == 0.0 and r["eval_max_diff_to_state"] == 0.0 and r["eval_abs_mean"] > 0.05
    assert r["dev_accuracy"] >= 0.9 and r["step"] == 30
    assert r["flags"] == {"embedding_dim": "8", "num_epochs": "30"}
    events = list((tmp_path / "runs" / "summaries" / "train").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 1000  # graph + 30 steps of 3 v1 summaries
    assert (tmp_path / "runs" / "checkpoints" / "model-30.index").exists()


@pytest.mark.slow
def test_negative_control_dropout_left_as_keep_prob_zeroes_evaluation(run_program):
    """The silent failure the dropout rewrite prevents: the same upgraded program with the argument left as the
    keep probability runs without an error and its evaluation features are all zero."""
    code = upgraded("text_rnn_flags.py").replace(DROPOUT_EDIT, "tf.nn.dropout(state, self.dropout_keep_prob)")
    r = run_program(code)
    assert r["eval_zero_fraction"] == 1.0 and r["eval_abs_mean"] == 0.0


@pytest.mark.slow
def test_bidirectional_tagger_keyword_renames(run_program):
    code = upgraded("bidirectional_tagger.py")
    assert "tf.reduce_sum(xent * mask, axis=1, keepdims=True)" in code
    assert "tf.compat.v1.to_float(" in code and "tf.compat.v1.assign(lr, new_lr)" in code
    r = run_program(code)
    _learnt(r["losses"], 0.9)
    assert r["accuracy"] > 0.65 and r["n_trainable"] == 7 and abs(r["lr"] - 0.01) < 1e-7


@pytest.mark.slow
def test_try_except_import_helpers_runtime_choice_and_checkpoint(run_program):
    code = upgraded("bidir_helpers_flags.py")
    assert "from tensorflow.compat.v1.nn import static_bidirectional_rnn" in code
    r = run_program(code)
    _learnt(r["losses"], 0.3)
    assert r["restored_equal"] is True and r["step"] == 60 and r["accuracy"] >= 0.9


@pytest.mark.slow
def test_interactive_session_time_major_and_meta_graph(run_program):
    code = upgraded("interactive_time_major.py")
    assert "tf.reduce_mean(tf.compat.v1.squared_difference(pred, y), keepdims=False)" in code
    r = run_program(code)
    _learnt(r["losses"], 0.7)
    assert r["reimported_equal"] is True and r["log_loss_finite"] is True


@pytest.mark.slow
def test_ptb_style_language_model(run_program):
    r = run_program(upgraded("ptb_style_lm.py"))
    ppl = r["perplexities"]
    assert len(ppl) == 4 and all(math.isfinite(v) for row in ppl for v in row)
    assert ppl[-1][0] < ppl[0][0] and ppl[-1][1] <= ppl[0][1] + 1e-3 and r["n_trainable"] == 7


def notebook_program(nb_text: str) -> str:
    """The code cells of a notebook as one script, IPython lines dropped (what running the cells top to bottom does)."""
    lines = []
    for cell in json.loads(nb_text)["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if is_cell_magic(source):
            continue
        lines += [ln for ln in source.split("\n") if not is_magic(ln)]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_notebook(run_program):
    text = (PROGRAMS / "sine_lstm.ipynb").read_text(encoding="utf-8")
    result = upgrade_notebook(text, "compat", "sine_lstm.ipynb")
    assert result.manual_checks == []
    cells = json.loads(result.text)["cells"]
    assert cells[1]["source"][0] == "import os\n" and cells[1]["source"][2] == "%matplotlib inline\n"
    assert cells[6]["source"][0].startswith("!echo")
    r = run_program(notebook_program(result.text))
    _learnt(r["losses"], 0.5)
    assert r["mse"] < 0.5 * r["baseline"]


@pytest.mark.slow
def test_char_rnn_legacy_seq2seq_monkeypatch(run_program):
    code = upgraded("char_rnn_seq2seq.py")
    assert "tf.nn.seq2seq = legacy_rnn.seq2seq.legacy_seq2seq\n" in code
    assert "legacy_rnn.seq2seq.legacy_seq2seq.rnn_decoder(inputs, initial_state, cell" in code
    assert code.index("import legacy_rnn.seq2seq.legacy_seq2seq") < code.index("import tensorflow as tf")
    pytest.importorskip("legacy_rnn.seq2seq")
    r = run_program(code)
    _learnt(r["losses"], 0.6)
    assert "rnnlm/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0" in r["variables"]


# -- --to keras on the same programs: the new patterns (bidirectional, MultiRNNCell stacks) run and learn ----------

def _called(code: str) -> set[str]:
    """The attribute names the code calls (comments and docstrings do not count)."""
    import ast

    return {n.func.attr for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)}


def keras_upgraded(name: str) -> tuple[str, list]:
    result = upgrade_source((PROGRAMS / name).read_text(encoding="utf-8"), "keras", name)
    return result.code, result.manual_checks


@pytest.mark.slow
def test_keras_bidirectional_tagger(run_program):
    code, manual = keras_upgraded("bidirectional_tagger.py")
    assert "tf_keras.layers.Bidirectional(" in code and "bidirectional_dynamic_rnn" not in _called(code)
    assert {m.symbol for m in manual} == {"tf.nn.embedding_lookup"}  # a TF variable matrix: left in compat form
    r = run_program(code)
    _learnt(r["losses"], 0.9)
    assert r["accuracy"] > 0.65
    assert r["n_trainable"] == 9  # Keras splits each LSTM kernel: 2 x (kernel, recurrent_kernel, bias) + 3


@pytest.mark.slow
def test_keras_notebook_stack(run_program):
    result = upgrade_notebook((PROGRAMS / "sine_lstm.ipynb").read_text(encoding="utf-8"), "keras", "sine_lstm.ipynb")
    assert result.manual_checks == []
    program = notebook_program(result.text)
    assert "for _k1 in range(2):" in program and not {"MultiRNNCell", "dynamic_rnn", "LSTMCell"} & _called(program)
    r = run_program(program)
    _learnt(r["losses"], 0.5)
    assert r["mse"] < 0.5 * r["baseline"]


# -- the shared TensorFlow import (tests/upgrade/program_runner.py) keeps each program's own bootstrap ---------------

BOOTSTRAP = 'os.environ["TF_USE_LEGACY_KERAS"] = "1"'


@pytest.mark.slow
def test_runner_honours_a_missing_bootstrap(program_runner, tmp_path):
    """Negative control of the shared import: the upgraded program without its bootstrap line gets its own zygote,
    which imports TensorFlow with TF_USE_LEGACY_KERAS unset as a fresh process would, and fails where
    test_tutorial_rnn_classifier passes."""
    code = upgraded("tutorial_rnn_classifier.py")
    (line,) = [ln for ln in code.splitlines(keepends=True) if ln.startswith(BOOTSTRAP)]
    started = program_runner.started
    proc = program_runner.run(code.replace(line, ""), tmp_path, program_env())
    assert proc.returncode == 1 and "RESULT" not in proc.stdout, proc.stdout[-2000:]
    assert "is not available with Keras 3" in proc.stderr, proc.stderr[-2000:]  # tf.compat.v1.nn.rnn_cell
    assert program_runner.started == started + 1
