"""Issue 20 point 4: checkpoint indexes are validated in our code before TensorFlow's reader sees them.

Fails on main (verified: ``PYTHONPATH=/work/main python -m migration inspect DIR`` on the ``[2**32, 2**32]`` and
``[-7, 4]`` indexes below ends with SIGABRT, exit 134, inside TensorFlow's ``TensorShape``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from migration.checkpoint.index_check import validate_index
from migration.checkpoint.reader import CheckpointReader
from migration.core.errors import MigrationError
from tests.security.index_files import copy_with_index, edit_entry, edit_header, read_entries, save_checkpoint
from tests.ux import ROOT, run_cli

# one xdist worker runs the module (setup.cfg: --dist loadgroup): its module fixture is built once
pytestmark = pytest.mark.xdist_group("index_validation")

DATA = ".data-00000-of-00001"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("index"))


@pytest.mark.parametrize("command", ["inspect", "convert"])
@pytest.mark.parametrize("shape", [[2 ** 32, 2 ** 32], [-7, 4]])
def test_cli_refuses_impossible_shapes_instead_of_aborting(ckpt, tmp_path, command, shape):
    table = edit_entry(read_entries(ckpt), "emb", shape=shape)
    prefix = copy_with_index(ckpt, tmp_path / "ckpt", table)
    args = [command, str(tmp_path / "ckpt")] + ([str(tmp_path / "out")] if command == "convert" else [])
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "'emb'" in proc.stderr and prefix + ".index" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_rewritten_index_is_read_back_equal(ckpt, tmp_path):
    """Control for the writer the tests use: an unedited re-encoded index validates and TF reads the same values."""
    import tensorflow as tf

    prefix = copy_with_index(ckpt, tmp_path / "same")
    assert len(validate_index(prefix + ".index", [prefix + DATA]).variables) == 4
    original, copy = tf.train.load_checkpoint(ckpt), CheckpointReader(prefix)
    for name in copy.variables:
        np.testing.assert_array_equal(copy.read(name), original.get_tensor(name))


@pytest.mark.parametrize("edit, pattern", [
    (lambda t: edit_entry(t, "emb", shape=[1] * 40), "rank 40"),
    (lambda t: edit_entry(t, "emb", shape=[2 ** 62, 4]), "more than int64"),
    (lambda t: edit_entry(t, "emb", shape=[7, 4]), "size 84 bytes, but shape"),
    (lambda t: edit_entry(t, "emb", offset=-8), "negative offset"),
    (lambda t: edit_entry(t, "emb", offset=10 ** 12), "past the end of data shard 0"),
    (lambda t: edit_entry(t, "emb", size=10 ** 12), "past the end"),
    (lambda t: edit_entry(t, "emb", shard_id=3), "shard 3 of 1"),
    (lambda t: edit_entry(t, "emb", dtype=999), "unknown dtype 999"),
    (lambda t: edit_entry(t, "emb", dtype=7, shape=[10 ** 6]), "strings in"),
    (lambda t: edit_entry(t, "rnn/basic_lstm_cell/bias", shape=[-1]), "negative dimension"),
    (lambda t: edit_header(t, num_shards=0), "names 0 data shard"),
    (lambda t: edit_header(t, num_shards=10 ** 9), "names 1000000000 data shard"),
    (lambda t: edit_header(t, endianness=5), "endianness 5"),
    (lambda t: {k: v for k, v in t.items() if k}, "no readable header"),
])
def test_index_edits_are_clear_errors(ckpt, tmp_path, edit, pattern):
    prefix = copy_with_index(ckpt, tmp_path / "c", edit(read_entries(ckpt)))
    with pytest.raises(MigrationError, match=pattern) as info:
        CheckpointReader(prefix)
    assert prefix + ".index" in str(info.value)


@pytest.mark.parametrize("raw", [b"", b"not an index at all" * 10, b"\x00" * 48])
def test_garbage_and_truncated_indexes(ckpt, tmp_path, raw):
    prefix = copy_with_index(ckpt, tmp_path / "g", raw=raw)
    with pytest.raises(MigrationError, match="not a TF checkpoint index"):
        CheckpointReader(prefix)
    full = Path(ckpt + ".index").read_bytes()
    prefix = copy_with_index(ckpt, tmp_path / "t", raw=full[:len(full) // 2])
    with pytest.raises(MigrationError, match="not a TF checkpoint index"):
        CheckpointReader(prefix)


# -- property test: mutated indexes --------------------------------------------------------------------------------

EDGY = [-(2 ** 63), -7, -1, 0, 1, 3, 7, 255, 2 ** 31, 2 ** 32, 2 ** 62, 2 ** 63 - 1]
FIELDS = {
    "shape": st.lists(st.sampled_from(EDGY) | st.integers(-5, 100), max_size=40),
    "offset": st.sampled_from(EDGY) | st.integers(0, 400),
    "size": st.sampled_from(EDGY) | st.integers(0, 400),
    "shard_id": st.integers(0, 2 ** 31 - 1),
    "dtype": st.integers(0, 200),
}
NAMES = ["emb", "global_step", "rnn/basic_lstm_cell/bias", "rnn/basic_lstm_cell/kernel"]


@st.composite
def mutations(draw):
    kind = draw(st.sampled_from(["field", "field", "header", "bytes", "truncate"]))
    if kind == "field":
        keys = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3, unique=True))
        fields = {k: draw(FIELDS[k]) for k in keys}
        return ("field", draw(st.sampled_from(NAMES)), fields)
    if kind == "header":
        return ("header", draw(st.integers(-2 ** 31, 2 ** 31 - 1)), draw(st.integers(0, 5)))
    if kind == "bytes":
        return ("bytes", draw(st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), min_size=1,
                                       max_size=4)))
    return ("truncate", draw(st.integers(0, 10 ** 6)))


def _apply(ckpt: str, directory: Path, mutation) -> str:
    table = read_entries(ckpt)
    if mutation[0] == "field":
        try:
            return copy_with_index(ckpt, directory, edit_entry(table, mutation[1], **mutation[2]))
        except ValueError:  # an int out of the proto field's range: protobuf refuses to encode it
            return copy_with_index(ckpt, directory, table)
    if mutation[0] == "header":
        try:
            return copy_with_index(ckpt, directory, edit_header(table, num_shards=mutation[1], endianness=mutation[2]))
        except ValueError:
            return copy_with_index(ckpt, directory, table)
    raw = bytearray(Path(ckpt + ".index").read_bytes())
    if mutation[0] == "bytes":
        for pos, value in mutation[1]:
            raw[pos % len(raw)] = value
        return copy_with_index(ckpt, directory, raw=bytes(raw))
    return copy_with_index(ckpt, directory, raw=bytes(raw[:mutation[1] % len(raw)]))


#: a child process opens every mutated checkpoint that our validator accepts, with TensorFlow's reader, and reads
#: every tensor: a native crash there ends the child with a signal, which the test reports
CHILD = """
import json, sys
import migration
from migration.checkpoint.reader import CheckpointReader
from migration.core.errors import MigrationError
out = {}
for prefix in json.loads(sys.argv[1]):
    try:
        reader = CheckpointReader(prefix)
        for name in reader.variables:
            reader.read(name)
        out[prefix] = "ok"
    except MigrationError:
        out[prefix] = "refused"
    except Exception as exc:
        out[prefix] = "TRACEBACK " + type(exc).__name__ + ": " + str(exc)[:200]
print(json.dumps(out))
"""


def test_mutated_indexes_never_crash(ckpt, tmp_path):
    """Every mutation: our validator accepts it or raises MigrationError (in process, many examples); the accepted
    ones, and a sample of the refused ones, then go through CheckpointReader + TF's reader in a child process."""
    accepted: list[str] = []
    counter = [0]

    @settings(max_examples=150, derandomize=True, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(mutations())
    def check(mutation):
        counter[0] += 1
        prefix = _apply(ckpt, tmp_path / f"m{counter[0]}", mutation)
        try:
            validate_index(prefix + ".index", [prefix + DATA])
        except MigrationError:
            if counter[0] % 10 == 0:
                accepted.append(prefix)  # a few refused ones too: the whole reader must refuse them the same way
            return
        accepted.append(prefix)

    check()
    assert accepted
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(accepted)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [r for r in results.values() if r.startswith("TRACEBACK")], results
    assert len(results) == len(accepted)
    assert "ok" in results.values()  # some mutations leave a readable checkpoint (e.g. a byte in a padding area)
