"""The CLI's shared contract: exit codes, --json errors, --help that teaches, doctor."""
from __future__ import annotations

import json

import pytest

from migration import cli
from migration.core.errors import MigrationError


def _fake_command(monkeypatch, exc: BaseException) -> None:
    from migration.commands import doctor

    def boom(args):
        raise exc

    monkeypatch.setattr(doctor, "run", boom)


def test_bad_input_is_exit_2_with_the_message(monkeypatch, capsys) -> None:
    _fake_command(monkeypatch, MigrationError("checkpoint 'x.index' is truncated; re-save it"))
    assert cli.main(["doctor", "--json"]) == cli.EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "x.index" in captured.err and json.loads(captured.out.splitlines()[-1])["exit_code"] == 2


def test_a_bug_is_exit_3_with_traceback(monkeypatch, capsys) -> None:
    _fake_command(monkeypatch, RuntimeError("unexpected"))
    assert cli.main(["doctor"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error (RuntimeError: unexpected)" in err


def test_usage_error_is_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2


@pytest.mark.parametrize("command", [m.rsplit(".", 1)[1] for m in cli.SUBCOMMANDS])
def test_every_command_has_help_with_an_example(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert len(text) > 300 and "example" in text.lower()


def test_doctor_reports_a_working_installation(capsys) -> None:
    assert cli.main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["ok"] is True and report["packages"]["tf_keras"].startswith("2.21")
    assert report["checks"]["tf.compat.v1.nn.rnn_cell"] == "ok"


def test_os_error_is_exit_2_with_the_remedy(monkeypatch, capsys) -> None:
    import errno

    _fake_command(monkeypatch, OSError(errno.ENOSPC, "No space left on device", "/full/out"))
    assert cli.main(["doctor", "--json"]) == cli.EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "/full/out" in captured.err and "disk is full" in captured.err and "Traceback" not in captured.err
    assert json.loads(captured.out.splitlines()[-1])["exit_code"] == 2


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_is_exit_128_plus_n(monkeypatch, capsys, name: str) -> None:
    import signal

    from migration.core.signals import Interrupted

    signum = getattr(signal, name)
    _fake_command(monkeypatch, Interrupted(signum))
    assert cli.main(["doctor", "--json"]) == 128 + signum
    captured = capsys.readouterr()
    assert f"interrupted by {name}" in captured.err
    assert json.loads(captured.out.splitlines()[-1])["exit_code"] == 128 + signum
