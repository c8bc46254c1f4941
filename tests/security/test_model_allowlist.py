"""Issue 20 point 1: a ``.keras`` config may name only allowlisted modules/classes, checked before Keras sees it;
the current directory and the model's directory are never on ``sys.path`` while loading.

Fails on main (verified by running the same CLI commands with ``PYTHONPATH=/work/main``): the ``evil`` activation is
imported (marker written, exit 2 only after the import, or exit 0 where the module provides the name), ``this``
prints the Zen of Python, and an ``h5py.py`` in the current directory shadows the real h5py.
"""
from __future__ import annotations

import re
import sys

import pytest

from migration.core.errors import MigrationError
from migration.import_path import strip_startup_directory, without_directories
from migration.keras_config import MAX_DEPTH, check_config, config_violation, json_depth, parse_bounded_json
from migration.safe_io import check_keras_archive, load_keras_model
from tests.security.model_files import layer, rewrite, save_lstm_model
from tests.ux import run_cli, run_cli_in_process

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("model_allowlist")

#: evil.py: writes the marker when imported, and provides what the configs below name (so main exits 0)
EVIL = ("import pathlib\npathlib.Path({marker!r}).write_text('ran')\nfrom tf_keras import Sequential\n"
        "def act(x):\n    return x\n")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("allowlist")
    weights = save_lstm_model(root / "model.keras")
    return root / "model.keras", weights


def _activation(module: str, name: str = "act"):
    def edit(cfg: dict) -> None:
        layer(cfg, "lstm")["config"]["activation"] = {"module": module, "class_name": "function", "config": name,
                                                      "registered_name": name}
    return edit


def _model_module(module: str):
    return lambda cfg: cfg.__setitem__("module", module)


#: the two places a config names a module: (file, edit, the key the refusal names)
REFUSED = [
    ("lstm_activation", _activation("evil"), "config/layers[1]/config/activation/module"),
    ("model_module", _model_module("evil"), "config/module"),  # on main: evil.py runs and export exits 0
]


def test_cli_export_refuses_a_module_from_the_current_directory(saved, tmp_path):
    """The issue's case: DIR holds evil.py and a model.keras whose config names module `evil` (each place in
    REFUSED, one fresh process each). The control exports the untouched model from the same directory, which also
    holds an h5py.py (tf_keras imports h5py while loading: `python -m migration` must not import the current
    directory's one); one control process serves both cases and the h5py check (it was one process per case)."""
    source, _ = saved
    marker, shadowed = tmp_path / "MARKER", tmp_path / "SHADOWED"
    work = tmp_path / "dir"
    work.mkdir()
    (work / "evil.py").write_text(EVIL.format(marker=str(marker)))
    for where, edit, key in REFUSED:
        rewrite(source, work / f"{where}.keras", config=edit)
        proc = run_cli("export", f"{where}.keras", "out/model.ckpt", cwd=work, PYTHONPROFILEIMPORTTIME="1")
        assert proc.returncode == 2, (where, proc.stderr)
        assert f"{key} = 'evil'" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        # refused before TensorFlow (and Keras) is even imported: -X importtime lists every module the run imported
        imported = re.findall(r"^import time:.*\| +(\S+)$", proc.stderr, re.MULTILINE)
        assert "migration.safe_io" in imported and "tensorflow" not in imported and "tf_keras" not in imported
        assert not marker.exists()
        assert not (work / "out").exists()
    # control: the same directory with the untouched model exports (the refusal is about the name, nothing else)
    (work / "h5py.py").write_text(f"import pathlib\npathlib.Path({str(shadowed)!r}).write_text('shadowed')\n")
    rewrite(source, work / "clean.keras")
    proc = run_cli("export", "clean.keras", "out/model.ckpt", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert not shadowed.exists()


def test_cli_export_refuses_an_installed_module_with_import_side_effects(saved, tmp_path):
    """`this` prints the Zen of Python when imported (on main it is printed, then the load fails)."""
    source, _ = saved
    rewrite(source, tmp_path / "model.keras", config=_model_module("this"))
    proc = run_cli("export", "model.keras", "out/model.ckpt", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "module = 'this'" in proc.stderr
    assert "Beautiful is better than ugly" not in proc.stdout + proc.stderr
    assert not (tmp_path / "out").exists()


def _set(path: list, value):
    def edit(cfg: dict) -> None:
        node = layer(cfg, path[0])
        for key in path[1:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


EVIL_OBJ = {"module": "evil", "class_name": "Thing", "config": {}, "registered_name": None}
CASES = {
    "activation": _activation("evil"),
    "recurrent_activation_builtins": _set(["lstm", "config", "recurrent_activation"],
                                          {"module": "builtins", "class_name": "function", "config": "exec",
                                           "registered_name": "exec"}),
    "initializer": _set(["lstm", "config", "kernel_initializer"], EVIL_OBJ),
    "regularizer": _set(["dense", "config", "kernel_regularizer"], EVIL_OBJ),
    "constraint": _set(["dense", "config", "bias_constraint"], EVIL_OBJ),
    "layer_module": _set(["dense", "module"], "os.path"),
    "module_prefix_trick": _set(["dense", "module"], "kerasevil"),
    "module_dotdot": _set(["dense", "module"], "keras..layers"),
    "registered_package": _set(["dense", "registered_name"], "evilpkg>Dense"),
    "nested_layer": _set(["lstm", "config", "nested"], {"module": "keras.layers", "class_name": "RNN", "config": {
        "cell": {"module": "subprocess", "class_name": "Popen", "config": {}}}}),
    "lambda_layer": _set(["dense", "class_name"], "Lambda"),
    "serialized_function": _set(["lstm", "config", "activation"], {"class_name": "__lambda__", "config": {
        "value": ["4wEAAAAA", None, None]}}),
    "compile_loss": lambda cfg: cfg.__setitem__("compile_config", {"loss": EVIL_OBJ, "optimizer": "adam"}),
    "optimizer": lambda cfg: cfg.__setitem__("compile_config", {"optimizer": {
        "module": "keras.optimizers", "class_name": "Adam", "config": {"lr": {"module": "shutil", "class_name":
                                                                                  "rmtree", "config": {}}}}}),
    "class_name_not_a_name": _set(["dense", "class_name"], "os.system('x')"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_place_a_config_can_name_code_is_checked(saved, tmp_path, case):
    source, _ = saved
    path = rewrite(source, tmp_path / "m.keras", config=CASES[case])
    with pytest.raises(MigrationError, match="Refused"):
        check_keras_archive(str(path))
    with pytest.raises(MigrationError, match="Refused"):
        load_keras_model(path)


def test_clean_model_passes_and_loads_equal(saved, tmp_path):
    """Negative control: the untouched archive passes the check and loads with its weights."""
    import numpy as np

    source, weights = saved
    check_keras_archive(str(source))
    model = load_keras_model(source)
    for w in model.weights:
        np.testing.assert_array_equal(w.numpy(), weights[w.name])


def test_the_projects_own_registered_cells_are_allowed():
    """Configs of modern_rnn's registered layers (module and `modern_rnn>Name`) pass; another package does not."""
    ok = {"module": "modern_rnn.projection_lstm", "class_name": "ProjectionLSTMCell",
          "registered_name": "modern_rnn>ProjectionLSTMCell", "config": {}}
    seq = {"module": "modern_rnn.seq2seq.models", "class_name": "Seq2Seq",
           "registered_name": "modern_rnn.seq2seq>Seq2Seq", "config": {}}
    assert config_violation([ok, seq]) is None
    assert "registered_name" in config_violation(dict(ok, registered_name="modern_rnnx>ProjectionLSTMCell"))
    assert "module" in config_violation(dict(ok, module="modern_rnn_evil"))


def test_deeply_nested_config_is_a_clear_error(saved, tmp_path):
    """Issue 20 point 7: a 100,000-deep config.json made json.loads / Keras raise RecursionError (a traceback)."""
    source, _ = saved
    deep = b"[" * 100_000 + b"]" * 100_000
    path = rewrite(source, tmp_path / "deep.keras", raw_config=b'{"a": ' + deep + b"}")
    with pytest.raises(MigrationError, match="nested 100001 levels deep"):
        check_keras_archive(str(path))
    # in this process (a RecursionError would still be main's traceback and exit 3): the message is the point here
    proc = run_cli_in_process("export", str(path), str(tmp_path / "out" / "m.ckpt"), cwd=tmp_path)
    assert proc.returncode == 2 and "nested" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": 2}]}') == 3  # brackets inside strings do not count
    assert parse_bounded_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, "x") is not None  # at the bound: parsed


def test_archive_members_are_limited(saved, tmp_path):
    """Keras extracts every extra member to disk (assets) and reads .npz weights: neither is accepted."""
    source, _ = saved
    for name in ("assets/x.txt", "model.weights.npz", "../evil.py"):
        path = rewrite(source, tmp_path / "m.keras", extra={name: b"x"})
        with pytest.raises(MigrationError, match="holds only"):
            check_keras_archive(str(path))


def test_sys_path_guards(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", ".", str(tmp_path), "/usr/lib/python3", str(tmp_path / "in")])
    with without_directories([str(tmp_path / "in")]):
        assert sys.path == ["/usr/lib/python3"]
    assert sys.path == ["", ".", str(tmp_path), "/usr/lib/python3", str(tmp_path / "in")]
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "in"))
    removed = strip_startup_directory()
    assert removed == ["", ".", str(tmp_path)] and sys.path == ["/usr/lib/python3", str(tmp_path / "in")]


def test_check_config_message_names_key_and_module():
    cfg = {"config": {"layers": [{"class_name": "LSTM", "config": {"activation": {
        "module": "evil", "class_name": "function", "config": "act", "registered_name": "act"}}}]}}
    with pytest.raises(MigrationError) as info:
        check_config(cfg, "m.keras")
    assert "config/layers[0]/config/activation/module = 'evil'" in str(info.value)


def test_current_directory_does_not_shadow_modules_imported_by_the_package_itself(tmp_path):
    """`logging`/`tempfile` are imported by migration/__init__.py (through core.tf_env) before __main__ runs: the
    strip happens while `-m` locates the package (main printed SHADOWED and crashed)."""
    for name in ("logging", "tempfile"):
        (tmp_path / f"{name}.py").write_text(f"print('SHADOWED {name}')\n")
    proc = run_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and "SHADOWED" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
