"""``import_glove_text`` (what ``rnn-migrate glove import`` runs): the cache's ``vectors.npy`` is written while the
text is parsed; the files must be those of ``save_glove_cache(load_glove_text(...))`` byte for byte on every path
(threads, forked pandas, line by line, a fast path that gives up half-way), and nothing partial may be left."""
from __future__ import annotations

import errno
import io
from pathlib import Path

import numpy as np
import pytest

from migration import glove as G
from migration.core.errors import MigrationError
from migration.glove import forked, store, threaded

FILES = ("vectors.npy", "words.txt", "meta.json")


def _text(n: int = 400, dim: int = 5, seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    rows = (rng.standard_normal((n, dim)) * 2 + 0.5).tolist()
    return "".join(f"w{i}{'é' * (i % 3)} " + " ".join("%.7g" % v for v in row) + "\n" for i, row in enumerate(rows))


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(threaded, "SLICE_BYTES", 700)
    monkeypatch.setattr(threaded, "BLOCK_BYTES", 512)
    monkeypatch.setattr(forked, "MIN_BYTES", 0)
    monkeypatch.setattr(forked, "cores", lambda: 3)


def _reference(src: Path, tmp_path: Path, engine: str) -> Path:
    return G.save_glove_cache(G.load_glove_text(src, engine=engine), tmp_path / f"ref-{engine}")


@pytest.mark.parametrize("case", ["regular", "late_word_with_space", "late_trailing_space", "header_crlf"])
@pytest.mark.parametrize("engine", ["pyarrow", "pandas", "python"])
def test_streamed_cache_is_the_saved_cache_byte_for_byte(tmp_path, small_pieces, monkeypatch, engine, case):
    text = _text()
    if case == "late_word_with_space":  # the fast path gives up at a late piece: what it streamed is dropped
        text = text.replace("\nw351 ", "\nmy w351 ", 1)
    elif case == "late_trailing_space":
        lines = text.splitlines(keepends=True)
        lines[390] = lines[390].replace("\n", " \n")
        text = "".join(lines)
    elif case == "header_crlf":
        text = "400 5\r\n" + text.replace("\n", "\r\n")
    src = tmp_path / "g.txt"
    src.write_text(text, encoding="utf-8")
    ref = _reference(src, tmp_path, engine)
    restarts = []
    real = store._NpyRows.restart
    monkeypatch.setattr(store._NpyRows, "restart", lambda self: restarts.append(1) or real(self))
    saves = []
    real_save = np.save
    monkeypatch.setattr(np, "save", lambda *a, **k: saves.append(1) or real_save(*a, **k))
    glove = G.import_glove_text(src, tmp_path / "out", engine=engine)
    assert saves == []  # streamed: finish's np.save fallback did not run
    # the line-by-line path starts the file over once
    assert len(restarts) == (0 if case in ("regular", "header_crlf") and engine != "python" else 1)
    for name in FILES:
        assert (tmp_path / "out" / name).read_bytes() == (ref / name).read_bytes(), name
    assert G.load_glove_cache(tmp_path / "out", verify=True).words == glove.words
    assert len(glove) == 400 and ("my w351" in glove.words) == (case == "late_word_with_space")
    assert text != _text() or case == "regular"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt", "out", f"ref-{engine}"]  # no staging left


@pytest.mark.parametrize("bad", ["w390 1 2 3 4 x\n", "w390 1 2 3 4 nan\n", "w6 1 2 3 4 5\n"])
def test_a_bad_late_line_leaves_no_output_and_keeps_the_old_cache(tmp_path, small_pieces, bad):
    lines = _text().splitlines(keepends=True)
    lines[390] = bad
    src = tmp_path / "g.txt"
    src.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(G.GloveFormatError, match=r"g.txt.*(391|line 7 and line 391)"):
        G.import_glove_text(src, tmp_path / "new")
    old = G.save_glove_cache(G.Glove(["a"], np.ones((1, 2), np.float32)), tmp_path / "old")
    before = {name: (old / name).read_bytes() for name in FILES}
    with pytest.raises(G.GloveFormatError):
        G.import_glove_text(src, old, force=True)
    assert {name: (old / name).read_bytes() for name in FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt", "old"]  # no "new", no staging directory
    with pytest.raises(G.GloveFormatError, match="already exists"):
        G.import_glove_text(src, old)


def test_a_write_that_fails_on_the_hashing_thread_is_raised_here_and_nothing_is_left(tmp_path, small_pieces,
                                                                                      monkeypatch, capsys):
    src = tmp_path / "g.txt"
    src.write_text(_text(), encoding="utf-8")
    calls = []
    real = store._NpyRows.write

    def write(self, block):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, block)

    monkeypatch.setattr(store._NpyRows, "write", write)
    with pytest.raises(MigrationError, match="No space left"):
        G.import_glove_text(src, tmp_path / "out")
    assert len(calls) == 3 and "Traceback" not in capsys.readouterr().err  # not a thread's stray traceback
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt"]


class _HeaderOnly(io.RawIOBase):
    """A file that keeps np.save's first write (the header) and stops it at the second (the data)."""

    def __init__(self):
        super().__init__()
        self.writes: list[bytes] = []

    def writable(self):
        return True

    def write(self, data):
        self.writes.append(bytes(data))
        if len(self.writes) > 1:
            raise StopIteration
        return len(data)


@pytest.mark.parametrize("shape", [(0, 1), (1, 50), (400_000, 50), (2_196_017, 300), (10 ** 15, 7)])
def test_npy_header_is_the_header_np_save_writes(shape):
    saved = _HeaderOnly()
    try:
        np.save(saved, np.broadcast_to(np.float32(1.5), shape), allow_pickle=False)
    except StopIteration:  # at the data
        assert shape[0] > 0
    assert store.npy_header(shape) == saved.writes[0]
    assert f"'shape': ({shape[0]}, {shape[1]})".encode() in saved.writes[0]


def test_rows_that_disagree_with_the_result_are_saved_whole(tmp_path):
    """Negative control of the streamed file: what was streamed is not what the reader returned -> np.save."""
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((6, 3)).astype(np.float32)
    path = tmp_path / "v.npy"
    with open(path, "wb") as handle:
        rows = store._NpyRows(handle)
        rows.write(vectors[:4])
        rows.finish(vectors)  # 2 rows short
    expected = io.BytesIO()
    np.save(expected, vectors)
    assert path.read_bytes() == expected.getvalue()
    with open(path, "wb") as handle:
        rows = store._NpyRows(handle)
        rows.write(vectors[:2])
        rows.write(vectors[2:])
        rows.finish(vectors)
    assert path.read_bytes() == expected.getvalue()
    with pytest.raises(RuntimeError, match="another shape"):
        with open(tmp_path / "w.npy", "wb") as handle:
            rows = store._NpyRows(handle)
            rows.write(vectors)
            rows.write(np.ones((2, 4), np.float32))


def test_a_bad_file_creates_no_parent_directory_and_a_good_one_does(tmp_path, small_pieces):
    src = tmp_path / "g.txt"
    src.write_text(_text(50) + "bad 1 2\n", encoding="utf-8")
    with pytest.raises(G.GloveFormatError, match=r"g.txt:51: "):
        G.import_glove_text(src, tmp_path / "new" / "deeper" / "cache")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt"]
    src.write_text(_text(50), encoding="utf-8")
    G.import_glove_text(src, tmp_path / "new" / "deeper" / "cache")
    ref = G.save_glove_cache(G.load_glove_text(src), tmp_path / "ref")
    for name in FILES:
        assert (tmp_path / "new" / "deeper" / "cache" / name).read_bytes() == (ref / name).read_bytes()
