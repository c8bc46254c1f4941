"""Packaging facts from issue 13: the license file matches setup.cfg, the API map that `rnn-migrate scan` links to
ships inside the package (the wheel has no docs/), and the package data is declared so `python -m build` has no
'absent from the packages configuration' warning (the build itself needs the network for its isolated environment,
so it is checked by hand: see the report; here the configuration it reads).

Issue 23 point 5: the wheel (built offline from a copy of the tree, `pip wheel --no-build-isolation`) installs only
the product, no top-level `examples`, and `rnn-migrate example` runs from it in a fresh venv."""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import migration
from migration.commands.example import MODULES
from migration.upgrade import symbols

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("packaging")

ROOT = Path(__file__).resolve().parents[2]


def _cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_license_file_is_the_declared_apache_2() -> None:
    cfg = _cfg()
    assert cfg["metadata"]["license"] == "Apache-2.0" and cfg["metadata"]["license_files"].strip() == "LICENSE"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text


def test_api_map_ships_in_the_package_with_every_anchor_scan_links_to() -> None:
    shipped = Path(migration.__file__).parent / "api-map.md"
    assert shipped.read_text(encoding="utf-8") == (ROOT / symbols.API_MAP).read_text(encoding="utf-8")
    assert "api-map.md" in _cfg()["options.package_data"]["migration"]
    text = shipped.read_text(encoding="utf-8")
    missing = [a for a in symbols.ANCHORS if f'<a id="{a}"></a>' not in text]
    assert not missing


def test_package_data_is_explicit() -> None:
    cfg = _cfg()
    assert cfg["options"]["include_package_data"].strip() == "False"  # else setuptools warns about examples.data
    data = [d.strip() for d in cfg["options.package_data"]["migration.data"].split(",")]
    assert data == ["*.csv.bz2", "README.md"] and list((ROOT / "migration" / "data").glob("*.csv.bz2"))
    assert cfg["options.package_data"]["migration.upgrade"].strip() == "data/*.json"
    assert "tensorboard" in cfg["options.extras_require"]["tensorboard"]


def test_scan_links_open_outside_a_checkout(tmp_path, monkeypatch, capsys) -> None:
    """From a directory without docs/ (an installed wheel's situation), scan's links point at the shipped copy."""
    from migration.cli import main

    src = tmp_path / "model.py"
    src.write_text("import tensorflow as tf\ncell = tf.nn.rnn_cell.BasicLSTMCell(4)\n")
    monkeypatch.chdir(tmp_path)
    assert main(["scan", str(src)]) == 1
    out = capsys.readouterr().out
    links = [line.rsplit("(", 1)[1].rstrip(")") for line in out.splitlines() if "api-map.md#" in line]
    assert links
    for link in links:
        path, anchor = link.split("#")
        assert Path(path).is_file() and f'<a id="{anchor}"></a>' in Path(path).read_text(encoding="utf-8")
    monkeypatch.chdir(ROOT)  # inside a checkout the short relative link is kept
    assert main(["scan", str(src)]) == 1
    assert "(docs/api-map.md#basiclstmcell)" in capsys.readouterr().out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a copy of the tree (the build writes build/ and *.egg-info beside setup.cfg), without network."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in ("migration", "legacy_rnn", "modern_rnn", "examples"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))  # symlinks followed
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(dist), str(src)], check=True, capture_output=True, timeout=600)
    (built,) = dist.glob("rnn_migrate-*.whl")
    return built


def test_the_wheel_installs_the_product_only(wheel) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"migration", "legacy_rnn", "modern_rnn", "rnn_migrate-0.1.0.dist-info"}
    assert not [n for n in names if n.startswith("examples/")]
    for module in list(MODULES.values()) + ["migration.demo", "migration.examples.distributed"]:
        assert module.replace(".", "/") + ".py" in names  # every program the CLI runs ships
    assert "migration/api-map.md" in names and "migration/upgrade/data/" in " ".join(names)
    assert "migration/upgrading.md" in names  # scan links its generic rows there
    assert [n for n in names if n.startswith("migration/data/") and n.endswith(".csv.bz2")]
    top_level = zipfile.ZipFile(wheel).read("rnn_migrate-0.1.0.dist-info/top_level.txt").decode().split()
    assert sorted(top_level) == ["legacy_rnn", "migration", "modern_rnn"]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv that sees the installed dependencies (--system-site-packages: no download) with only the wheel
    installed into it; the environment a user's shell would have (no PYTHONPATH, TF_USE_LEGACY_KERAS unset)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q",
                    str(wheel)], check=True, capture_output=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_USE_LEGACY_KERAS")}
    env.update(MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    return venv, env


@pytest.mark.slow
def test_an_installed_wheel_runs_an_example_from_an_empty_directory(installed, tmp_path) -> None:
    """The example runs from an empty directory, without this checkout on PYTHONPATH, from the venv's own files."""
    venv, env = installed
    python, empty = venv / "bin" / "python", tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run([str(python), "-c", "import migration.examples.echo as m; print(m.__file__)"], cwd=empty,
                           env=env, capture_output=True, text=True, timeout=300)
    assert where.stdout.strip().startswith(str(venv))
    run = subprocess.run([str(venv / "bin" / "rnn-migrate"), "example", "echo", "--impl", "static", "--size", "2000",
                          "--json", "--quiet"], cwd=empty, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["size"] == 2000 and report["runs"]["static"]["steps"] > 0
    assert list(empty.iterdir()) == []


#: A user's own TF1 script as such scripts were written (top-level `tf.` names, `tf.nn.rnn_cell`, `tf.contrib`-free
#: graph code, `xrange`-free Python 3): 20 lines, never edited by the test. It prints its outputs for a fixed input
#: and the trained loss values as JSON, and saves its variables so the numbers can be checked independently.
USER_SCRIPT = """\
import json, sys
import numpy as np
import tensorflow as tf

tf.set_random_seed(7)
x = tf.placeholder(tf.float32, [None, 6, 4], name="x")
y = tf.placeholder(tf.float32, [None, 3], name="y")
cell = tf.nn.rnn_cell.BasicLSTMCell(5, forget_bias=0.7)
outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
w = tf.get_variable("w", [5, 3], initializer=tf.random_normal_initializer(seed=3))
b = tf.get_variable("b", [3], initializer=tf.constant_initializer(0.25))
logits = tf.matmul(state.h, w) + b
loss = tf.reduce_mean(tf.square(logits - y))
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
feed = {x: np.linspace(-1, 1, 2 * 6 * 4).reshape(2, 6, 4), y: np.array([[1, 0, -1], [0.5, 0.5, 0]])}
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    first, weights = sess.run([logits, {v.op.name: v for v in tf.trainable_variables()}], feed)
    losses = [float(sess.run([loss, train], feed)[0]) for _ in range(int(sys.argv[1]))]
np.savez(sys.argv[2], **{k.replace("/", "."): v for k, v in weights.items()})
print(json.dumps({"logits": first.tolist(), "losses": losses}))
"""


def _numpy_logits(weights: dict, forget_bias: float) -> np.ndarray:
    """The script's logits from its saved variables, by TF1's BasicLSTMCell formulas (gate order i, j, f, o)."""
    xs = np.linspace(-1, 1, 2 * 6 * 4).reshape(2, 6, 4)
    kernel, bias = weights["rnn.basic_lstm_cell.kernel"], weights["rnn.basic_lstm_cell.bias"]
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    c = h = np.zeros((2, 5))
    for t in range(6):
        i, j, f, o = np.split(np.concatenate([xs[:, t], h], 1) @ kernel + bias, 4, axis=1)
        c = c * sig(f + forget_bias) + sig(i) * np.tanh(j)
        h = np.tanh(c) * sig(o)
    return h @ weights["w"] + weights["b"]


@pytest.mark.slow
def test_a_users_own_tf1_script_runs_unedited_in_a_fresh_venv(installed, tmp_path) -> None:
    """Issue 23 point 2: the documented command (`rnn-migrate run SCRIPT.py ARGS`, README "Run your own TF1 code")
    runs the script above from the venv's own files; its numbers are checked against NumPy with the variables it
    saved, its loss falls over its 3 steps. The control: `python SCRIPT.py` in the same venv fails (TF 2.21 has no
    `tf.set_random_seed`), and the file is byte-identical afterwards."""
    venv, env = installed
    script = tmp_path / "my_lstm.py"
    script.write_text(USER_SCRIPT)
    assert len(USER_SCRIPT.splitlines()) <= 22
    run = subprocess.run([str(venv / "bin" / "rnn-migrate"), "run", "my_lstm.py", "3", "vars.npz"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    with np.load(tmp_path / "vars.npz", allow_pickle=False) as saved:
        weights = {k: saved[k] for k in saved.files}
    expected = _numpy_logits(weights, 0.7)
    np.testing.assert_allclose(report["logits"], expected, rtol=1e-5, atol=1e-6)
    assert np.abs(expected - _numpy_logits(weights, 1.0)).max() > 1e-3  # the forget bias is seen by the check
    assert len(report["losses"]) == 3 and report["losses"][2] < report["losses"][0]
    plain = subprocess.run([str(venv / "bin" / "python"), "my_lstm.py", "3", "plain.npz"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=900)
    assert plain.returncode != 0 and "has no attribute 'set_random_seed'" in plain.stderr  # its first TF1 name
    assert script.read_text() == USER_SCRIPT and not (tmp_path / "plain.npz").exists()
