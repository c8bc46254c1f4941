"""GloVe reader against hostile and odd inputs (issue 9): long first lines, ``1_0`` numbers, tampered caches, and
property tests (hypothesis) showing random bytes and structured junk never give a traceback, and that every engine
gives the same answer."""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration import glove as G
from migration.glove import text as T

ENGINES = ["pyarrow", "pandas", "python"]
MARKER_NAME = "pickle-ran.marker"


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _outcome(path: Path, engine: str):
    """("ok", words, vectors) or ("error", message): never anything else (no other exception escapes)."""
    try:
        g = G.load_glove_text(path, engine=engine)
    except G.GloveFormatError as exc:
        assert str(path) in str(exc)  # every message names the file
        return ("error", str(exc))
    assert g.vectors.dtype == np.float32 and g.vectors.ndim == 2 and g.vectors.shape[0] == len(g.words) > 0
    assert np.isfinite(g.vectors).all() and g.dim >= 1
    assert g.index == {w: i for i, w in enumerate(g.words)}
    return ("ok", g.words, g.vectors.tobytes(), g.vectors.shape)


# ---------------------------------------------------------------------------------------------- long first line

@pytest.mark.parametrize("engine", ENGINES)
def test_first_line_over_64_kib(tmp_path, engine):
    rng = np.random.default_rng(7)
    dim = 9000  # "%.9g" of float32 values: ~100 KiB per line
    vectors = rng.standard_normal((3, dim)).astype(np.float32)
    lines = [f"w{i} " + " ".join("%.9g" % v for v in row) for i, row in enumerate(vectors.tolist())]
    assert len(lines[0]) > 1 << 16
    g = G.load_glove_text(write(tmp_path / "wide.txt", "\n".join(lines) + "\n"), engine=engine)
    assert g.words == ["w0", "w1", "w2"]
    np.testing.assert_array_equal(g.vectors, vectors)
    # a word longer than 64 KiB on line 1, and a word2vec header before a wide line
    long_word = "x" * 70_000
    g = G.load_glove_text(write(tmp_path / "word.txt", f"{long_word} 1 2\nb 3 4\n"), engine=engine)
    assert g.words == [long_word, "b"]
    g = G.load_glove_text(write(tmp_path / "hdr.txt", f"3 {dim}\n" + "\n".join(lines) + "\n"), engine=engine)
    np.testing.assert_array_equal(g.vectors, vectors)
    # a ragged wide line is still named by number
    bad = write(tmp_path / "ragged.txt", "\n".join(lines[:2] + [lines[2].rsplit(" ", 1)[0]]) + "\n")
    with pytest.raises(G.GloveFormatError, match=rf"ragged\.txt:3: the line has {dim} fields"):
        G.load_glove_text(bad, engine=engine)


# ---------------------------------------------------------------------------------------------- number grammar

@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("token", ["1_0", "0x10", "1,5", "\u0661", "1d5", "--1", "1e", ".e5", "\uff11"])
def test_numbers_python_float_would_accept_or_junk_are_refused(tmp_path, engine, token):
    path = write(tmp_path / "g.txt", f"a 1 2 3\nb 4 {token} 6\nc 7 8 9\n")
    with pytest.raises(G.GloveFormatError, match=rf"g\.txt:2: number 2 of the vector, {re.escape(repr(token))}, "
                                                 "is not a number"):
        G.load_glove_text(path, engine=engine)


def test_underscore_is_accepted_by_python_float_but_not_by_the_grammar():
    assert float("1_0") == 10.0  # the trap: Python's float() takes PEP 515 underscores
    assert not T._is_number(b"1_0") and T._is_number(b"10") and T._is_number(b"-1.5e-3")


@pytest.mark.parametrize("engine", ENGINES)
def test_underscore_in_extra_fields_is_a_word_part_not_a_number(tmp_path, engine):
    # GloVe 840B rule: fields before the last E belong to the word unless they are all numbers; "1_0" is no number
    g = G.load_glove_text(write(tmp_path / "g.txt", "a 1_0 1 2\nb 3 4\nc 5 6\n"), engine=engine)
    assert g.words == ["a 1_0", "b", "c"]
    np.testing.assert_array_equal(g.vectors, np.float32([[1, 2], [3, 4], [5, 6]]))
    with pytest.raises(G.GloveFormatError, match=r"g\.txt:1: the line has 4 fields"):
        G.load_glove_text(write(tmp_path / "g.txt", "a 10 1 2\nb 3 4\nc 5 6\n"), engine=engine)


_NUMBERISH = st.text(alphabet="0123456789+-.eEinfatyINFATY_x, \u0661", min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(token=_NUMBERISH.filter(lambda s: " " not in s))
def test_grammar_matches_pyarrow(token):
    """The regex that locates bad numbers accepts exactly what the fast parser accepts (whitespace-free tokens)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from migration.glove.threaded import arrow_options

    read, parse, convert = arrow_options(1, with_word=False)  # float64 columns, as both arrow paths parse them
    try:
        pcsv.read_csv(pa.py_buffer(token.encode() + b"\n"), read_options=read, parse_options=parse,
                      convert_options=convert)
        arrow_ok = True
    except pa.ArrowInvalid:
        arrow_ok = False
    assert T._is_number(token.encode()) == arrow_ok, token


# ------------------------------------------------------------------------------------------------ tampered cache

class _Bomb:
    """Unpickling this writes a marker file: proof that a loader unpickled."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pickle ran"))


@pytest.fixture
def cache(tmp_path) -> Path:
    return G.save_glove_cache(G.Glove(["a", "b"], np.float32([[1, 2], [3, 4]])), tmp_path / "cache")


def _bomb_array(tmp_path: Path) -> np.ndarray:
    arr = np.empty((2, 2), dtype=object)
    arr[0, 0] = _Bomb(str(tmp_path / MARKER_NAME))
    return arr


@pytest.mark.parametrize("mmap", [True, False])
def test_pickled_cache_vectors_are_refused_without_unpickling(tmp_path, cache, mmap):
    np.save(cache / "vectors.npy", _bomb_array(tmp_path), allow_pickle=True)
    pickle.loads(pickle.dumps(_Bomb(str(tmp_path / "control.marker"))))  # control: the bomb does go off
    assert (tmp_path / "control.marker").exists()
    for load in (lambda: G.load_glove_cache(cache, mmap=mmap), lambda: G.load_glove(cache)):
        with pytest.raises(G.GloveFormatError, match=r"vectors\.npy holds a Python object array.*never unpickles"):
            load()
    assert not (tmp_path / MARKER_NAME).exists()


def test_pickled_seed_pair_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "wordsList.npy", np.array(["a", "b"]))
    np.save(tmp_path / "wordVectors.npy", _bomb_array(tmp_path), allow_pickle=True)
    with pytest.raises(G.GloveFormatError, match="never unpickles"):
        G.load_glove(tmp_path)
    assert not (tmp_path / MARKER_NAME).exists()


@pytest.mark.parametrize("tamper, pattern", [
    (lambda c: write(c / "vectors.npy", b"not an npy file"), r"vectors\.npy: not a valid \.npy file"),
    (lambda c: write(c / "vectors.npy", (c / "vectors.npy").read_bytes()[:-5]), r"vectors\.npy: not a valid"),
    (lambda c: write(c / "vectors.npy", b""), r"vectors\.npy: not a valid \.npy file"),
    (lambda c: (c / "vectors.npy").unlink(), r"vectors\.npy is missing"),
    (lambda c: np.save(c / "vectors.npy", np.float64([[1, 2], [3, 4]])), r"vectors\.npy is \(2, 2\) float64"),
    (lambda c: np.save(c / "vectors.npy", np.ones((3, 2), np.float32)), r"V=2 E=2 but .* \(3, 2\)"),
    (lambda c: write(c / "words.txt", b"a\n\xff\n"), r"words\.txt: not valid UTF-8"),
    (lambda c: write(c / "words.txt", b"a\na\n"), r"duplicate word: 'a' on line 1 and line 2"),
    (lambda c: (c / "words.txt").unlink(), r"words\.txt: cannot read"),
    (lambda c: write(c / "meta.json", "[]"), r"meta\.json: expected a JSON object, got list"),
    (lambda c: write(c / "meta.json", "{"), r"meta\.json: cannot read the cache metadata"),
    (lambda c: write(c / "meta.json", b"\xff"), r"meta\.json: cannot read the cache metadata"),
    (lambda c: _edit_meta(c, V="2"), r"V must be a non-negative integer, got '2'"),
    (lambda c: _edit_meta(c, E=-1), r"E must be a non-negative integer, got -1"),
    (lambda c: _edit_meta(c, E=True), r"E must be a non-negative integer, got True"),
    (lambda c: _edit_meta(c, vectors_sha256=None), r"vectors_sha256 must be a string"),
    (lambda c: _edit_meta(c, version=2), r"not an rnn-migrate-glove-cache v1 cache"),
])
def test_tampered_cache_is_refused_clearly(cache, tamper, pattern):
    G.load_glove_cache(cache, verify=True)  # control: intact it loads
    tamper(cache)
    with pytest.raises(G.GloveFormatError, match=pattern) as info:
        G.load_glove_cache(cache, verify=True)
    assert str(cache) in str(info.value)


def _edit_meta(cache: Path, **changes) -> None:
    meta = json.loads((cache / "meta.json").read_text())
    meta.update(changes)
    (cache / "meta.json").write_text(json.dumps(meta))


# ------------------------------------------------------------------------------------------- property tests

@pytest.fixture(scope="module")
def junk_dir(tmp_path_factory) -> Path:
    """One directory for the property tests' files (module-scoped: hypothesis reruns a test body many times)."""
    return tmp_path_factory.mktemp("glove-hypothesis")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300))
def test_random_bytes_never_traceback(junk_dir, data):
    _outcome(write(junk_dir / "random.txt", data), "auto")


_TOKENS = st.sampled_from([
    b"a", b"b", b"the", b",", b'"', b"'s", b"nan", b"null", b"NA", b"1", b"-0.5", b"2e-3", b"+7", b".5", b"5.",
    b"1e39", b"inf", b"-Infinity", b"1_0", b"0x1", b"1,5", b"\xff", b"\xc3\xa9", b"\xef\xbb\xbf", b"", b"\t", b"x",
    b"3", b"2", b"10", b"0", b"\x00", b"#", b"\\", b"\r",
])
_SEPS = st.sampled_from([b" ", b" ", b" ", b"  ", b"\t", b" \t"])
_ENDS = st.sampled_from([b"\n", b"\n", b"\n", b"\r\n", b"\r", b" \n", b""])


@st.composite
def _junk_glove(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        tokens = draw(st.lists(_TOKENS, min_size=0, max_size=5))
        line = b""
        for tok in tokens:
            line += tok + draw(_SEPS)
        lines.append(line.rstrip(b" \t") if draw(st.booleans()) else line)
    ends = [draw(_ENDS) for _ in lines]
    prefix = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"2 3\n", b"3 2\n", b"0 0\n", b"1 99999999999\n"]))
    return prefix + b"".join(line + end for line, end in zip(lines, ends))


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_junk_glove())
def test_structured_junk_never_tracebacks_and_engines_agree(junk_dir, data):
    path = write(junk_dir / "junk.txt", data)
    outcomes = [_outcome(path, engine) for engine in ENGINES]
    assert outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0], data


_WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(_WORD, min_size=1, max_size=12, unique=True), dim=st.integers(1, 6), seed=st.integers(0, 99),
       crlf=st.booleans(), bom=st.booleans(), header=st.booleans(), blank_tail=st.booleans())
def test_valid_files_read_exactly(junk_dir, words, dim, seed, crlf, bom, header, blank_tail):
    words = [w for w in words if w.strip() == w and w.split() == [w] and "\x85" not in w]
    if not words:
        return
    vectors = (np.random.default_rng(seed).standard_normal((len(words), dim)) * 10).astype(np.float32)
    end = "\r\n" if crlf else "\n"
    text = "".join(w + " " + " ".join("%.9g" % v for v in row) + end for w, row in zip(words, vectors.tolist()))
    text = (f"{len(words)} {dim}{end}" if header else "") + text + (end * 2 if blank_tail else "")
    path = write(junk_dir / "valid.txt", (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    for engine in ENGINES:
        g = G.load_glove_text(path, engine=engine)
        assert g.words == words, engine
        np.testing.assert_array_equal(g.vectors, vectors)


def test_auto_engine_is_the_threaded_pyarrow_reader(tmp_path, monkeypatch):
    """The default engine is pyarrow's reader on threads (no pandas import, no fork): it runs, and the others don't."""
    from migration.glove import threaded

    assert T._auto_engine() == "pyarrow"
    calls = []
    real = threaded.parse_threaded
    monkeypatch.setattr(threaded, "parse_threaded", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(T, "_fast_parse_pandas", lambda *a: pytest.fail("the pandas engine ran"))
    g = G.load_glove_text(write(tmp_path / "g.txt", "a 1 2\nb 3 4\n"))
    assert calls == [1] and g.words == ["a", "b"]


# ---------------------------------------------------------------------------------------- forked ranges


def _glove_lines(n: int, dim: int, seed: int) -> tuple[list[str], np.ndarray, str]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}_{'xyz'[i % 3] * (i % 5)}" for i in range(n)]
    vectors = (rng.standard_normal((n, dim)) * 3).astype(np.float32)
    text = "".join(w + " " + " ".join("%.9g" % v for v in row) + "\n" for w, row in zip(words, vectors.tolist()))
    return words, vectors, text


def _sub_pieces(text: str, n: int = 3) -> list[tuple[int, int]]:
    """The rows ``[first, end)`` of each range the reader cuts ``text`` into for ``n`` cores."""
    import pyarrow as pa

    from migration.glove import forked

    data = text.encode("utf-8")
    ranges = T._cut(pa.py_buffer(data), 0, len(data), forked.plan(len(data), n))
    return [(data.count(b"\n", 0, a), data.count(b"\n", 0, b)) for a, b in ranges]


@pytest.fixture
def forked_on(monkeypatch):
    """Every body counts as large and the machine as 3 cores: 5 ranges, the parent's and 2 a child for 2 forked
    children (each child's range in ``CHILD_SPLIT`` sub-pieces)."""
    from migration.glove import forked

    monkeypatch.setattr(forked, "MIN_BYTES", 0)
    monkeypatch.setattr(forked, "cores", lambda: 3)
    calls = []
    real = forked.parse_forked
    monkeypatch.setattr(forked, "parse_forked", lambda *a: calls.append(len(a[1])) or real(*a))  # 5 positionals
    return calls


def test_forked_ranges_give_the_single_process_result_in_file_order(tmp_path, forked_on):
    words, vectors, text = _glove_lines(3000, 7, seed=5)
    g = G.load_glove_text(write(tmp_path / "g.txt", text), engine="pandas")
    assert forked_on == [5]  # the forked path ran: the parent's range and 2 sub-pieces for each of 2 children
    assert g.words == words and g.index == {w: i for i, w in enumerate(words)}
    np.testing.assert_array_equal(g.vectors, vectors)
    assert g.vectors.flags["C_CONTIGUOUS"] and g.vectors.dtype == np.float32
    assert g.vectors.flags["OWNDATA"]  # the children's rows were read in place from their maps, then copied out


@pytest.mark.parametrize("row, bad, message", [
    (40, "x", r"bad\.txt:41: "),          # a non-number in the parent's range
    (1500, "", r"bad\.txt:1501: "),       # a missing field in the first child's first sub-piece
    (1800, "x", r"bad\.txt:1801: "),      # the first child's second sub-piece (after it handed over its first)
    (2990, "", r"bad\.txt:2991: "),       # the second child's second sub-piece
])
def test_a_bad_line_in_a_childs_range_is_named_by_its_line(tmp_path, forked_on, row, bad, message):
    words, vectors, text = _glove_lines(3000, 7, seed=6)
    lines = text.splitlines(keepends=True)
    fields = lines[row].split(" ")
    fields[3] = bad
    lines[row] = " ".join(f for f in fields if f != "") if bad == "" else " ".join(fields)
    with pytest.raises(G.GloveFormatError, match=message):
        G.load_glove_text(write(tmp_path / "bad.txt", "".join(lines)), engine="pandas")
    assert forked_on == [5]
    cut = _sub_pieces(text)  # the rows above sit where their comments say
    assert [k for k, (first, last) in enumerate(cut) if first <= row < last] == [{40: 0, 1500: 1, 1800: 2, 2990: 4}[row]]


def test_a_word_repeated_across_ranges_names_both_lines(tmp_path, forked_on):
    words, vectors, text = _glove_lines(3000, 7, seed=7)
    lines = text.splitlines(keepends=True)
    lines[2900] = words[10] + lines[2900][len(words[2900]):]
    with pytest.raises(G.GloveFormatError, match=r"line 11 and line 2901"):
        G.load_glove_text(write(tmp_path / "dup.txt", "".join(lines)), engine="pandas")


def test_a_child_that_dies_sends_the_file_to_the_line_by_line_path(tmp_path, forked_on, monkeypatch):
    import os

    words, vectors, text = _glove_lines(2000, 5, seed=8)
    parent = os.getpid()
    real = T._parse_pandas_piece
    monkeypatch.setattr(T, "_parse_pandas_piece",
                        lambda *a: os._exit(9) if os.getpid() != parent else real(*a))
    slow = []
    real_slow = T._slow_parse
    monkeypatch.setattr(T, "_slow_parse", lambda *a: slow.append(1) or real_slow(*a))
    g = G.load_glove_text(write(tmp_path / "g.txt", text), engine="pandas")
    assert slow == [1] and g.words == words  # the same answer, read line by line
    np.testing.assert_array_equal(g.vectors, vectors)


def test_a_child_that_dies_after_handing_over_its_first_sub_piece_gives_the_same_answer(tmp_path, forked_on,
                                                                                     monkeypatch):
    """The parent has already taken (indexed, hashed) a child's first sub-piece when the child dies in its second:
    those rows are discarded with the rest and the line-by-line path reads the file; nothing is counted twice."""
    import os

    words, vectors, text = _glove_lines(3000, 7, seed=10)
    parent, calls = os.getpid(), []
    real = T._parse_pandas_piece

    def parse(*a):
        calls.append(1)  # per process: each child counts its own calls from the parent's 0
        if os.getpid() != parent and len(calls) == 2:
            os._exit(9)  # the second sub-piece of each child
        return real(*a)

    monkeypatch.setattr(T, "_parse_pandas_piece", parse)
    took = []
    real_add = T.Joiner.add
    monkeypatch.setattr(T.Joiner, "add", lambda self, w, b: took.append(len(w)) or real_add(self, w, b))
    g = G.load_glove_text(write(tmp_path / "g.txt", text), engine="pandas")
    cut = _sub_pieces(text)
    assert took[:2] == [cut[0][1] - cut[0][0], cut[1][1] - cut[1][0]]  # the parent's piece, then the child's first
    assert took[2:] == [3000]  # then the line-by-line path's one piece: the whole file
    assert g.words == words and g.index == {w: i for i, w in enumerate(words)}
    np.testing.assert_array_equal(g.vectors, vectors)


def test_a_childs_first_sub_piece_is_taken_while_the_child_still_parses_its_last(tmp_path, forked_on, monkeypatch):
    """The pipelining itself: each child's last sub-piece waits (up to 20 s) for a file the parent writes when it
    takes that child's first sub-piece. Without the hand-over the child gives up, the file goes to the
    line-by-line path and the test fails; with it no line-by-line pass runs."""
    import os
    import time

    words, vectors, text = _glove_lines(3000, 7, seed=11)
    parent, calls = os.getpid(), []
    real = T._parse_pandas_piece
    cut = _sub_pieces(text)
    firsts = {cut[1][0]: tmp_path / "took-1", cut[3][0]: tmp_path / "took-2"}  # each child's first sub-piece
    marker_of_child = {}

    def parse(buf, a, b, dim):
        calls.append(1)
        if os.getpid() != parent and len(calls) == 2:  # a child's last sub-piece
            deadline = time.monotonic() + 20
            while not any(m.exists() for m in marker_of_child.get("mine", [])) and time.monotonic() < deadline:
                time.sleep(0.005)
            if not any(m.exists() for m in marker_of_child.get("mine", [])):
                return None  # not handed over in time: irregular -> the line-by-line path
        elif os.getpid() != parent:
            first_row = bytes(buf.slice(0, a)).count(b"\n")
            marker_of_child["mine"] = [firsts[first_row]]
        return real(buf, a, b, dim)

    monkeypatch.setattr(T, "_parse_pandas_piece", parse)
    real_add, rows = T.Joiner.add, []

    def add(self, w, b):
        start = self.rows
        if start in firsts:
            firsts[start].write_text("taken")
        rows.append(start)
        return real_add(self, w, b)

    monkeypatch.setattr(T.Joiner, "add", add)
    slow = []
    real_slow = T._slow_parse
    monkeypatch.setattr(T, "_slow_parse", lambda *a: slow.append(1) or real_slow(*a))
    g = G.load_glove_text(write(tmp_path / "g.txt", text), engine="pandas")
    assert slow == [] and rows == [first for first, _ in cut]
    assert all(m.read_text() == "taken" for m in firsts.values())
    assert g.words == words
    np.testing.assert_array_equal(g.vectors, vectors)


def test_one_core_or_a_small_body_is_parsed_in_this_process():
    from migration.glove import forked

    assert not forked.usable(forked.MIN_BYTES - 1)
    assert forked.usable(forked.MIN_BYTES) == (forked.cores() > 1)


def test_the_digest_computed_while_reading_is_the_vectors_sha256_on_every_path(tmp_path, monkeypatch):
    """The reader hashes each piece as it arrives (the parent's while the children parse): the digest it hands the
    cache must be the SHA-256 of the joined matrix, forked or not, and the cache's own verify must accept it."""
    import hashlib

    from migration.glove import forked

    words, vectors, text = _glove_lines(3000, 7, seed=9)
    path = write(tmp_path / "g.txt", text)
    single = G.load_glove_text(path, engine="pandas")
    monkeypatch.setattr(forked, "MIN_BYTES", 0)
    monkeypatch.setattr(forked, "cores", lambda: 3)
    split = G.load_glove_text(path, engine="pandas")
    arrow = G.load_glove_text(path, engine="pyarrow")
    expected = hashlib.sha256(np.ascontiguousarray(vectors).tobytes()).hexdigest()
    for glove in (single, split, arrow):
        assert glove.vectors_sha256 == expected
        assert not glove.vectors.flags.writeable  # the digest cannot go stale
    cache = G.save_glove_cache(split, tmp_path / "cache")
    assert json.loads((cache / "meta.json").read_text())["vectors_sha256"] == expected
    G.load_glove_cache(cache, verify=True)  # recomputes the digest from the file
    # negative control: a Glove that claims a digest for vectors that may still change is refused
    with pytest.raises(G.GloveFormatError, match="read-only"):
        G.Glove(["a"], np.ones((1, 2), np.float32), vectors_sha256="0" * 64)


def test_the_parents_piece_is_the_smaller_one_and_the_pieces_cover_the_body():
    from migration.glove import forked

    for size, n in [(1000, 2), (171_350_079, 2), (10, 3), (7, 4)]:
        sizes = forked.piece_sizes(size, n)
        assert sum(sizes) == size and len(sizes) == n
        assert sizes[0] <= min(sizes[1:])  # the parent also indexes and hashes while the children parse
    assert forked.piece_sizes(5, 1) == [5]
    for size, n in [(1000, 2), (171_350_079, 2), (10, 3), (7, 4), (171_350_079, 4)]:
        plan, split = forked.plan(size, n), len(forked.CHILD_SPLIT)
        assert sum(plan) == size and len(plan) == 1 + (n - 1) * split and plan[0] == forked.piece_sizes(size, n)[0]
        for k in range(1, len(plan), split):  # each child's range: its share, the last sub-piece the smallest
            group = plan[k:k + split]
            assert sum(group) == forked.piece_sizes(size, n)[1 + (k - 1) // split]
            assert group[-1] <= min(group)


@pytest.mark.parametrize("engine", ["pandas", "pyarrow", "python"])
def test_the_readers_word_index_is_built_on_first_use_and_right(tmp_path, monkeypatch, engine):
    """The text reader checks uniqueness with a set; the ``{word: row}`` dict (2.5x the cost) is built only when
    something looks a word up, so ``glove import`` (read + cache) never builds it. Built later, it is the same."""
    from migration.glove import core

    words, vectors, text = _glove_lines(500, 4, seed=12)
    built = []
    real = core.build_index
    monkeypatch.setattr(core, "build_index", lambda *a: built.append(1) or real(*a))
    g = G.load_glove_text(write(tmp_path / "g.txt", text), engine=engine)
    G.save_glove_cache(g, tmp_path / "cache")
    assert built == []  # read + cache: no dict
    np.testing.assert_array_equal(g.lookup(words[7]), vectors[7])
    assert built == [1] and g.index == {w: i for i, w in enumerate(words)} and g.get_id("nope") is None
    assert words[499] in g and "nope" not in g and built == [1]  # built once
    # negative controls: words nobody checked are still refused at once, naming both rows
    with pytest.raises(G.GloveFormatError, match=r"'a' on row 0 and row 2"):
        G.Glove(["a", "b", "a"], np.ones((3, 2), np.float32))
    assert G.Glove(["a", "b"], np.ones((2, 2), np.float32), words_unique=True).index == {"a": 0, "b": 1}


@pytest.mark.parametrize("case", ["none", "bound", "tight", "overflow", "no_memory", "view_alive"])
def test_the_joiner_gives_the_same_rows_and_digest_whether_it_reserved_or_not(monkeypatch, case):
    """Pieces in C and Fortran order and read-only views, joined: without a reservation (join at the end), with a
    generous or an exact bound (copied into place, trimmed), a bound too small (falls back to a join), a bound that
    cannot be allocated (MemoryError: join), and a view of the reserved rows still alive when they are trimmed
    (``resize`` refuses: copied)."""
    import hashlib

    from migration.glove import parts

    rng = np.random.default_rng(13)
    pieces = [rng.standard_normal((n, 6)).astype(np.float32) for n in (5, 7, 3)]
    expected = np.concatenate(pieces)
    joiner = parts.Joiner()
    if case == "no_memory":
        monkeypatch.setattr(parts.np, "empty", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    if case != "none":
        joiner.reserve({"bound": 40, "tight": 15, "overflow": 9, "no_memory": 40, "view_alive": 40}[case], 6)
    for k, block in enumerate(pieces):
        given = np.asfortranarray(block) if k == 0 else block.copy()
        given.setflags(write=k != 1)  # the second piece read-only, like a child's map
        joiner.add([f"w{k}_{i}" for i in range(len(block))], given)
    alive = joiner._out[:2] if case == "view_alive" else None
    joined = joiner.vectors()
    np.testing.assert_array_equal(joined, expected)
    assert joined.flags["C_CONTIGUOUS"] and joined.flags["OWNDATA"] and not joined.flags["WRITEABLE"]
    assert joiner.sha256() == hashlib.sha256(expected.tobytes()).hexdigest()
    assert joiner.unique() and joiner.all_finite() and joiner.rows == 15
    if alive is not None:
        assert not np.shares_memory(alive, joined)  # the live view kept the old rows; the result is a copy
