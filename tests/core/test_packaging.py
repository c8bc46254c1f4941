"""Packaging facts from issue 13: the license file matches setup.cfg, the API map that `rnn-migrate scan` links to
ships inside the package (the wheel has no docs/), and the package data is declared so `python -m build` has no
'absent from the packages configuration' warning (the build itself needs the network for its isolated environment,
so it is checked by hand: see the report; here the configuration it reads)."""
from __future__ import annotations

import configparser
from pathlib import Path

import migration
from migration.upgrade import symbols

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
