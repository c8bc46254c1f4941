"""migration.core.output: messages never land on a progress bar's row, one bar per task, complete at the end, no bar
without a terminal or with --quiet."""
from __future__ import annotations

import io
import logging
import re
import warnings

import pytest

from migration.core import output


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _screen(raw: str) -> list[str]:
    """What a terminal shows: each row is the text after the last carriage return (tqdm redraws with \\r)."""
    rows = []
    for row in raw.split("\n"):
        rows.append(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", row.split("\r")[-1]).rstrip())
    return [r for r in rows if r]


@pytest.fixture
def terminal(monkeypatch):
    def make(tty: bool = True) -> FakeTerminal:
        stream = FakeTerminal(tty)
        monkeypatch.setattr("sys.stderr", stream)
        return stream
    return make


def test_messages_go_above_the_bar_and_the_bar_ends_complete(terminal) -> None:
    stream = terminal(True)
    for i in output.progress(range(7), desc="train", quiet=False):
        if i == 3:
            output.say("checkpoint saved at step 3")
    rows = _screen(stream.getvalue())
    assert "checkpoint saved at step 3" in rows  # a row of its own, not glued to bar text
    bar_rows = [r for r in rows if r.startswith("train:")]
    assert bar_rows and bar_rows[-1].startswith("train: 100%") and "7/7" in bar_rows[-1]
    assert rows[-1] == bar_rows[-1]  # the finished bar stays, last


def test_a_task_is_completed_even_when_updates_fall_short(terminal) -> None:
    stream = terminal(True)
    with output.task("convert", total=1000, unit="B") as bar:
        bar.update(990)  # e.g. headers not counted
    assert "1000/1000" in _screen(stream.getvalue())[-1]


def test_an_abandoned_or_failed_task_is_not_shown_complete(terminal) -> None:
    stream = terminal(True)
    for i in output.progress(range(10), desc="loop"):
        if i == 4:
            break
    with pytest.raises(ValueError), output.task("fails", total=10) as bar:
        bar.update(2)
        raise ValueError("boom")
    rows = _screen(stream.getvalue())
    assert any(r.startswith("loop:") and "4/10" in r for r in rows) and not any("10/10" in r for r in rows)
    assert any(r.startswith("fails:") and "2/10" in r for r in rows)


def test_logging_and_warnings_are_printed_through_the_bar(terminal) -> None:
    stream = terminal(True)
    logger = logging.getLogger("tensorflow")
    handler = logging.StreamHandler(stream)  # what TensorFlow's own logger does
    logger.addHandler(handler)
    try:
        with output.task("work", total=2) as bar:
            bar.update(1)
            logger.error("a TensorFlow error line")
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn("a user warning", UserWarning)
            bar.update(1)
    finally:
        logger.removeHandler(handler)
    rows = _screen(stream.getvalue())
    assert any(r.endswith("a TensorFlow error line") and not r.startswith("work") for r in rows)
    assert any("UserWarning: a user warning" in r and not r.startswith("work") for r in rows)


@pytest.mark.parametrize("tty, quiet", [(False, False), (True, True)])
def test_no_bar_without_a_terminal_or_with_quiet(terminal, tty: bool, quiet: bool) -> None:
    stream = terminal(tty)
    for i in output.progress(range(5), desc="train", quiet=quiet):
        if i == 2:
            output.say("hello")
    assert stream.getvalue() == "hello\n"
