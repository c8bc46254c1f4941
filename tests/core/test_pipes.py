"""migration/core/pipes.read_line: the line protocol of the sandbox child and the Keras 3 child."""
from __future__ import annotations

import os
import threading
import time

import pytest

from migration.core.errors import MigrationError
from migration.core.pipes import MAX_LINE, log_tail, read_line


@pytest.fixture()
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def test_lines_come_one_at_a_time_then_eof_is_none(pipe):
    r, w = pipe
    os.write(w, b'{"ready": true}\n')
    assert read_line(r, time.monotonic() + 5, "child") == '{"ready": true}\n'
    os.close(w)
    assert read_line(r, time.monotonic() + 5, "child") is None


def test_a_silent_child_is_the_empty_string_at_the_deadline(pipe):
    r, w = pipe
    os.write(w, b"partial")
    start = time.monotonic()
    assert read_line(r, start + 0.2, "child") == ""
    assert 0.15 <= time.monotonic() - start < 5


def test_an_oversized_reply_is_refused_naming_the_child(pipe):
    r, w = pipe
    writer = threading.Thread(target=lambda: os.write(w, b"x" * (MAX_LINE + (1 << 16))), daemon=True)
    writer.start()  # blocks on the full pipe until read_line reads
    with pytest.raises(MigrationError, match="the test child sent an oversized reply"):
        read_line(r, time.monotonic() + 30, "the test child")
    os.close(r)  # the writer's pending write fails and the thread ends
    writer.join(5)


def test_the_log_tail_is_its_last_nonblank_lines(tmp_path):
    log = tmp_path / "child.log"
    assert log_tail(str(log)) == "no log"
    log.write_text("")
    assert log_tail(str(log)) == "no output"
    log.write_text("x" * 5000 + "\nfirst\n\nsecond\n  \nthird\nModuleNotFoundError: No module named 'jax'\n")
    assert log_tail(str(log)) == "second | third | ModuleNotFoundError: No module named 'jax'"
    assert log_tail(str(log), lines=1, max_bytes=20) == " module named 'jax'"  # a cut first line counts as it stands
