"""The default GloVe reader: pyarrow on one thread a core, slices taken in file order (migration.glove.threaded).

Small files are cut into many slices (``SLICE_BYTES`` and ``BLOCK_BYTES`` patched down) so that every slice and
chunk boundary, the in-order hand-over and the early stop are exercised; the expected values come from Python's
``float()`` of the decimals written, never from the reader.
"""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from migration import glove as G
from migration.glove import text as T
from migration.glove import threaded

ENGINES = ["pyarrow", "pandas", "python"]


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _midpoint_decimals() -> list[str]:
    """Decimals at or next to a float32 halfway point: the float32 of ``float(d)`` (round to float64, then to
    float32) differs there from a direct float32 rounding of ``d`` for several of them."""
    out = ["1.0000000596046448", "1.00000005960464477539062500001", "-3.0000001192092896", "0.1", "-0.0",
           "1.401298464324817e-45", "7.006492321624085e-46", "7.006492321624087e-46", "3.4028235677973362e38"]
    for x in (1.0, -3.0, 1e-30, 1.7e38, 7e-39, 6.0e-8, 123456.7):
        f = np.float32(x)
        mid = Decimal((float(f) + float(np.nextafter(f, np.float32(np.copysign(np.inf, x))))) / 2)  # exact
        out += [repr(float(mid)), str(mid + abs(mid) * Decimal("1e-25")), str(mid - abs(mid) * Decimal("1e-25"))]
    return out


HARD = _midpoint_decimals()


@pytest.fixture
def sliced(monkeypatch):
    """Slices of ~600 bytes and pyarrow blocks of 512 bytes; records the slices each parse was cut into."""
    monkeypatch.setattr(threaded, "SLICE_BYTES", 600)
    monkeypatch.setattr(threaded, "BLOCK_BYTES", 512)
    cuts = []
    real = threaded.slices
    monkeypatch.setattr(threaded, "slices", lambda *a, **k: cuts.append(real(*a, **k)) or cuts[-1])
    return cuts


def _lines(n: int, dim: int, seed: int) -> tuple[list[str], list[list[str]], str]:
    """Words (non-ASCII, quote, hash, NA-looking, number-looking) and decimal tokens of varied forms."""
    rng = np.random.default_rng(seed)
    specials = ['"', "#", "nan", "null", "NA", "1e5", "é", "日本", "'s", "-", "\\"]
    words = [specials[i] if i < len(specials) else f"w{i}{'éx'[i % 2] * (i % 4)}" for i in range(n)]
    forms = ["%.9g", "%.5g", "%.3e", "%+.2f", "%.17g"]
    tokens = [[forms[(i + j) % len(forms)] % v for j, v in enumerate(row)]
              for i, row in enumerate((rng.standard_normal((n, dim)) * 3 + 0.25).tolist())]
    return words, tokens, "".join(w + " " + " ".join(t) + "\n" for w, t in zip(words, tokens))


def _expected(tokens: list[list[str]]) -> np.ndarray:
    return np.array([[np.float32(float(t)) for t in row] for row in tokens], dtype=np.float32)


@pytest.mark.parametrize("engine", ENGINES)
def test_hard_decimals_are_the_float32_of_python_float(tmp_path, engine, sliced):
    """Every engine rounds a decimal to float64 first (correctly, like ``float()``), then to float32."""
    dim = 3
    hard = HARD + ["0"] * (-len(HARD) % dim)
    rows = [hard[k:k + dim] for k in range(0, len(hard), dim)]
    path = write(tmp_path / "hard.txt", "".join(f"w{i} {' '.join(r)}\n" for i, r in enumerate(rows)))
    g = G.load_glove_text(path, engine=engine)
    expected = _expected(rows)
    assert g.vectors.tobytes() == expected.tobytes()  # bytes: -0.0 and subnormals included
    if engine == "pyarrow":
        assert len(sliced[0]) > 1


def test_a_direct_float32_parse_would_differ_on_the_hard_decimals():
    """Negative control for the test above: the decimals are hard (a float32 parse rounds several differently)."""
    table = pcsv.read_csv(pa.py_buffer(("\n".join(HARD) + "\n").encode()),
                          read_options=pcsv.ReadOptions(column_names=["v"]),
                          convert_options=pcsv.ConvertOptions(column_types={"v": pa.float32()}))
    direct = np.frombuffer(table.column(0).chunks[0].buffers()[1], dtype=np.float32, count=len(HARD))
    via_float = np.array([np.float32(float(d)) for d in HARD])
    assert (direct != via_float).sum() >= 8


def test_many_slices_give_the_rows_words_and_digest_of_the_decimals(tmp_path, sliced, monkeypatch):
    words, tokens, text = _lines(700, 7, seed=21)
    path = write(tmp_path / "g.txt", text)
    monkeypatch.setattr(T, "_slow_parse", lambda *a: pytest.fail("the line-by-line path ran"))
    g = G.load_glove_text(path)
    expected = _expected(tokens)
    assert len(sliced[0]) > 40  # many slices, each of several pyarrow blocks
    assert g.words == words
    assert g.vectors.tobytes() == expected.tobytes() and g.vectors.flags["C_CONTIGUOUS"]
    assert g.vectors_sha256 == hashlib.sha256(expected.tobytes()).hexdigest() and not g.vectors.flags.writeable
    monkeypatch.undo()
    other = G.load_glove_text(path, engine="pandas")  # the other engine, one slice: the same bytes
    assert other.words == words and other.vectors.tobytes() == expected.tobytes()


def _bad(kind: str, n: int = 300) -> tuple[bytes, int, str]:
    """A file whose line ``row + 1`` (in a late slice) is irregular in the way ``kind`` says; what the error says."""
    words, tokens, text = _lines(n, 4, seed=3)
    lines = text.encode("utf-8").splitlines(keepends=True)
    row = n - 20
    bad = {
        "ragged": (b"bad 1 2 3\n", "has 4 fields"),
        "not_a_number": (b"bad 1 2 x3 4\n", "'x3', is not a number"),
        "underscore": (b"bad 1 2 1_0 4\n", "'1_0', is not a number"),
        "bad_utf8": (b"b\xffd 1 2 3 4\n", "not valid UTF-8"),
        "blank": (b"\n", "is blank"),
        "nan": (b"bad 1 nan 3 4\n", "not finite"),
        "beyond_float32": (b"bad 1 2 1e39 4\n", "not finite"),
        "duplicate": (lines[5].replace(lines[5].split(b" ")[0], words[3].encode(), 1), "duplicate word"),
    }[kind]
    lines[row] = bad[0]
    return b"".join(lines), row + 1, bad[1]


@pytest.mark.parametrize("kind", ["ragged", "not_a_number", "underscore", "bad_utf8", "blank", "nan",
                                  "beyond_float32", "duplicate"])
def test_an_irregular_line_in_a_late_slice_is_named(tmp_path, sliced, kind):
    data, line, message = _bad(kind)
    path = write(tmp_path / f"{kind}.txt", data)
    where = rf"line 4 and line {line}\b" if kind == "duplicate" else rf":{line}: .*{re.escape(message)}"
    with pytest.raises(G.GloveFormatError, match=re.escape(str(path)) + ".*" + where):
        G.load_glove_text(path)
    offset = sum(len(x) for x in data.splitlines(keepends=True)[:line - 1])
    assert len(sliced[0]) > 20 and sliced[0][2][1] <= offset  # the bad line is not in the first slices


@pytest.mark.parametrize("kind", ["tab_word", "word_with_space", "trailing_space", "crlf", "bom_header"])
def test_tolerated_irregularities_in_slices_read_like_the_line_by_line_path(tmp_path, sliced, kind):
    words, tokens, text = _lines(200, 3, seed=8)
    data, word = text.encode("utf-8"), words[150].encode("utf-8")
    if kind == "tab_word":  # a tab between the word and its numbers: a delimiter for the line-by-line path
        data = data.replace(b"\n" + word + b" ", b"\n" + word + b"\t", 1)
    elif kind == "word_with_space":
        data = data.replace(b"\n" + word + b" ", b"\nmy " + word + b" ", 1)
        words[150] = "my " + words[150]
    elif kind == "trailing_space":
        data = data.replace(b"\n", b" \n")
    elif kind == "crlf":
        data = data.replace(b"\n", b"\r\n")
    else:
        data = b"\xef\xbb\xbf200 3\n" + data
    assert data != text.encode("utf-8")
    path = write(tmp_path / f"{kind}.txt", data)
    fast, slow = G.load_glove_text(path), G.load_glove_text(path, engine="python")
    assert fast.words == slow.words == words
    assert fast.vectors.tobytes() == slow.vectors.tobytes() == _expected(tokens).tobytes()


def test_a_bad_first_slice_stops_early(tmp_path, sliced, monkeypatch):
    """The pool parses at most ``workers + 1`` slices ahead of the one taken (``workers`` <= ``MAX_WORKERS``): a bad
    first slice stops the read."""
    words, tokens, text = _lines(500, 4, seed=5)
    path = write(tmp_path / "g.txt", "bad 1 2\n" + text)
    calls = []
    real = pcsv.read_csv
    monkeypatch.setattr(pcsv, "read_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(threaded.forked, "cores", lambda: 64)  # a big machine: still MAX_WORKERS threads
    with pytest.raises(G.GloveFormatError, match=r"g.txt:1: .*has 3 fields"):
        G.load_glove_text(path)
    assert len(sliced[0]) > 30 and len(calls) <= threaded.MAX_WORKERS + 2


def test_a_line_longer_than_the_block_stays_on_the_fast_path(tmp_path, monkeypatch):
    monkeypatch.setattr(threaded, "BLOCK_BYTES", 4096)
    words, tokens, text = _lines(12, 2000, seed=4)  # ~25 KB lines
    monkeypatch.setattr(T, "_slow_parse", lambda *a: pytest.fail("the line-by-line path ran"))
    g = G.load_glove_text(write(tmp_path / "wide.txt", text))
    assert g.words == words and g.vectors.tobytes() == _expected(tokens).tobytes()


def test_word_text_and_float_rows_read_sliced_chunks():
    """Arrow arrays that start at an offset (sliced) and span chunks; nulls, empty or spaced words are refused."""
    words = pa.chunked_array([pa.array(["zz", "a", "bé", "c"]).slice(1), pa.array(["日", "e"])])
    assert threaded.word_text(words) == "a\nbé\nc\n日\ne\n".encode()
    values = np.arange(12, dtype=np.float64).reshape(6, 2) + 0.5
    cols = [pa.chunked_array([pa.array(np.r_[9.0, values[:3, j]]).slice(1), pa.array(values[3:, j])])
            for j in range(2)]
    out = np.zeros((6, 2), np.float32)
    assert threaded.float_rows(cols, out) and (out == values.astype(np.float32)).all()
    assert not threaded.float_rows(cols, np.zeros((7, 2), np.float32))  # a row count that disagrees
    assert not threaded.float_rows(cols, np.zeros((5, 2), np.float32))
    assert not threaded.float_rows(cols, np.zeros((6, 3), np.float32))  # a column count that disagrees
    assert not threaded.float_rows([pa.chunked_array([pa.array([1.0, None])])], np.zeros((2, 1), np.float32))
    assert not threaded.float_rows([pa.chunked_array([pa.array([1, 2])])], np.zeros((2, 1), np.float32))
    for bad in (["a", ""], ["a b"], ["a\tb"], ["a\x0bb"], ["a\rb"], ["a\x0cb"], ["a\nb"], ["a", None]):
        assert threaded.word_text(pa.chunked_array([pa.array(bad)])) is None, bad


@pytest.mark.parametrize("step, tail", [(1, 0), (7, 0), (64, 0), (10_000, 0), (400, 2000), (400, 10**6)])
def test_slices_cover_the_body_at_line_breaks(step, tail):
    lines = [b"w%d %s\n" % (i, b"1 " * (i % 40) + b"2") for i in range(300)] + [b"last 1 2"]
    data = b"".join(lines)
    buf = pa.py_buffer(b"xx" + data)
    end = len(data) + 2
    cuts = threaded.slices(buf, 2, end, step, tail)
    assert cuts[0][0] == 2 and cuts[-1][1] == end
    assert all(a < b and b == c for (a, b), (c, _) in zip(cuts, cuts[1:]))
    assert all(buf.to_pybytes()[b - 1:b] == b"\n" for _, b in cuts[:-1])
    longest = max(map(len, lines))
    for a, b in cuts[:-1]:  # a quarter step within the last `tail` bytes
        want = step if end - a > tail else max(1, step // 4)
        assert want <= b - a < want + longest
    if step == 1:
        assert len(cuts) == len(lines)  # one line a slice
    if tail == 2000:
        assert sum(1 for a, _ in cuts if end - a <= tail) >= 4  # the tail is in small slices


def test_describe_mean_norm_is_over_the_first_100k_rows_in_float64():
    rng = np.random.default_rng(2)
    vectors = (rng.standard_normal((100_001, 2)) * 1e3).astype(np.float32)
    vectors[-1] = 1e30  # row 100,001: not counted
    g = G.Glove([f"w{i}" for i in range(len(vectors))], vectors, words_unique=True)
    head = vectors[:100_000].astype(np.float64)
    expected = float(np.mean(np.hypot(head[:, 0], head[:, 1])))
    assert G.describe(g)["mean_norm_first_100k"] == round(expected, 4)
    assert G.describe(G.Glove(["a"], np.array([[3.0, 4.0]], np.float32)))["mean_norm_first_100k"] == 5.0


def test_cli_engine_option_writes_the_same_cache_with_every_engine(tmp_path, capsys, sliced, monkeypatch):
    from migration import cli

    words, tokens, text = _lines(120, 5, seed=6)
    src = write(tmp_path / "g.txt", text)
    used = []
    for engine in ("pandas", "python", "pyarrow", "auto"):
        real = T._load
        monkeypatch.setattr(T, "_load", lambda *a: used.append(a[4]) or real(*a))  # a[4]: the engine
        assert cli.main(["glove", "import", str(src), "--out", str(tmp_path / engine), "--engine", engine,
                         "--quiet"]) == 0
        monkeypatch.setattr(T, "_load", real)
    assert used == ["pandas", "python", "pyarrow", "auto"]
    for name in ("vectors.npy", "words.txt", "meta.json"):
        first = (tmp_path / "pandas" / name).read_bytes()
        assert all((tmp_path / e / name).read_bytes() == first for e in ("python", "pyarrow", "auto")), name
    assert np.load(tmp_path / "auto" / "vectors.npy").tobytes() == _expected(tokens).tobytes()
    with pytest.raises(SystemExit) as info:  # argparse: bad usage
        cli.main(["glove", "import", str(src), "--out", str(tmp_path / "x"), "--engine", "numpy"])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err and not (tmp_path / "x").exists()
