"""Every TensorFlow-backed command starts and runs without TensorFlow's log lines or deprecation warnings, in a
fresh process with ``TF_CPP_MIN_LOG_LEVEL`` unset (issue 13). The examples and the demo are checked the same way in
``tests/examples/test_ux_examples.py``."""
from __future__ import annotations

import pytest

from migration.core import tf_env
from tests.ux import run_cli, tf_noise

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("quiet_commands")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """One tiny seed-004 checkpoint (embedding + BasicLSTMCell + DropoutWrapper + dense + Adam) and its conversion."""
    from migration import convert_checkpoint
    from tests.checkpoint.conftest import build_seed004

    root = tmp_path_factory.mktemp("quiet")
    prefix = build_seed004(root / "ckpt")
    convert_checkpoint(prefix, root / "converted", verify=False)
    return root, prefix


COMMANDS = {
    "doctor": lambda root, prefix: ["doctor"],
    "inspect": lambda root, prefix: ["inspect", prefix],
    "convert": lambda root, prefix: ["convert", prefix, str(root / "out-convert"), "--with-optimizer"],
    "verify": lambda root, prefix: ["verify", prefix, str(root / "converted")],
    "export": lambda root, prefix: ["export", str(root / "converted" / "blocks" / "rnn.keras"),
                                    str(root / "exported" / "model.ckpt")],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_stderr_has_no_tensorflow_noise(checkpoint, tmp_path, command: str) -> None:
    root, prefix = checkpoint
    proc = run_cli(*COMMANDS[command](root, prefix), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-3000:]
    assert tf_noise(proc.stderr) == [], proc.stderr[-3000:]
    assert proc.stdout.strip()  # it did report something


@pytest.mark.slow
def test_without_the_configuration_the_noise_is_there(checkpoint, tmp_path) -> None:
    """Control: RNN_MIGRATE_TF_LOGS=1 switches tf_env's configuration off; the same command is then noisy (C++ lines
    printed while TensorFlow loads, and the deprecation notice of our own dynamic_rnn call, made by the rebuilt
    verification of a checkpoint without its .meta), so the detector and the fix are both real."""
    import shutil

    root, prefix = checkpoint
    bare = tmp_path / "bare"
    bare.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(prefix + suffix, bare / ("model.ckpt" + suffix))
    proc = run_cli("verify", str(bare / "model.ckpt"), str(root / "converted"), cwd=tmp_path, RNN_MIGRATE_TF_LOGS="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    noise = "\n".join(tf_noise(proc.stderr))
    assert "absl::InitializeLog" in noise or "] " in noise, proc.stderr[-3000:]
    assert "is deprecated" in noise, proc.stderr[-3000:]


def test_preinit_filter_keeps_errors_and_other_text() -> None:
    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1795912676.817662    5922 port.cc:153] oneDNN custom operations are on.\n"
            "W0000 00:00:1795912676.817980    5922 cudart_stub.cc:31] Could not find cuda drivers\n"
            "E0000 00:00:1795912676.817980    5922 loader.cc:12] could not load libfoo.so\n"
            "Traceback (most recent call last):\n")
    assert tf_env.filter_preinit_lines(text, 3) == "Traceback (most recent call last):\n"
    kept = tf_env.filter_preinit_lines(text, 2)
    assert kept.splitlines() == ["E0000 00:00:1795912676.817980    5922 loader.cc:12] could not load libfoo.so",
                                 "Traceback (most recent call last):"]
    assert "port.cc" in tf_env.filter_preinit_lines(text, 0) and "absl::InitializeLog" not in tf_env.filter_preinit_lines(text, 0)


def test_python_m_migration_is_rnn_migrate(tmp_path) -> None:
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: rnn-migrate")
    bad = run_cli("convert", cwd=tmp_path)
    assert bad.returncode == 2 and "rnn-migrate convert: error" in bad.stderr


def test_output_piped_into_head_ends_without_a_traceback(tmp_path) -> None:
    import subprocess
    import sys

    from tests.ux import ROOT

    source = tmp_path / "many.py"
    source.write_text("import tensorflow as tf\n" + "x = tf.placeholder(tf.float32)\n" * 3000)
    proc = subprocess.run(f'"{sys.executable}" -m migration scan "{source}" | head -1', shell=True, cwd=tmp_path,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
                          timeout=120)
    assert proc.stdout.count("\n") == 1 and "tf.placeholder" in proc.stdout
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr[-2000:]


def test_find_spec_before_the_import_keeps_it_quiet(tmp_path) -> None:
    """`rnn-migrate scan` asks importlib.util.find_spec("tensorflow") without importing it; a later import in the same
    process is still quiet, and the hook is gone after the import. The process skips optional imports as the CLI
    does (``tf_env.skip_optional_imports``): TensorFlow then loads without jax, pandas and scipy (TFLite's ``_jit`` and
    tf_keras' ``pd`` are None; the TF1 cells still work), and each imports as usual afterwards when installed."""
    import subprocess
    import sys

    from tests.ux import ROOT

    code = ("import importlib.util, sys, migration\n"
            "from migration.core import tf_env\n"
            "tf_env.skip_optional_imports()\n"
            "assert importlib.util.find_spec('tensorflow') is not None\n"
            "import tensorflow\n"
            "assert not {'jax', 'pandas', 'scipy'} & set(sys.modules), sorted(sys.modules)\n"
            "assert sys.modules['tensorflow.lite.python.util']._jit is None\n"
            "assert sys.modules['tf_keras.src.engine.data_adapter'].pd is None\n"
            "assert tensorflow.compat.v1.nn.rnn_cell.LSTMCell.__module__.startswith('tf_keras')\n"
            "for name in ('jax', 'pandas', 'scipy.sparse'):\n"
            "    if importlib.util.find_spec(name.split('.')[0]) is not None:\n"
            "        __import__(name)\n"
            "        assert sys.modules[name] is not None\n"
            "assert not any(isinstance(f, tf_env._QuietTensorFlowImport) for f in sys.meta_path)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0 and tf_noise(proc.stderr) == [], proc.stderr[-3000:]


def test_the_cli_skips_optional_imports(monkeypatch, capsys) -> None:
    """``rnn-migrate`` / ``python -m migration`` (``migration.cli.main()`` reading ``sys.argv``) asks for the faster
    TensorFlow import before anything else (its effect is checked in a fresh process by
    test_find_spec_before_the_import_keeps_it_quiet); ``main(ARGS)`` called by a program leaves the process's
    TensorFlow import alone, as a library import does (tests/core/test_tf_env.py)."""
    from migration.cli import main

    calls = []
    monkeypatch.setattr(tf_env, "skip_optional_imports", lambda: calls.append(True))
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and calls == [] and "usage: rnn-migrate" in capsys.readouterr().out
    monkeypatch.setattr("sys.argv", ["rnn-migrate", "--help"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0 and calls == [True] and "usage: rnn-migrate" in capsys.readouterr().out
