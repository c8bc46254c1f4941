"""migration.examples.seq2seq: the generated task, and the CLI run (TF1 training, conversion, identical greedy and beam ids)."""
from __future__ import annotations

import json

import numpy as np

from migration.examples import seq2seq



def test_batches_are_reversals_with_eos_and_ragged_lengths() -> None:
    b = seq2seq.make_batch(np.random.default_rng(1), 50, 6)
    assert set(b["len"]) <= set(range(3, 7)) and len(set(b["len"])) > 1
    for src, n, dec_in, tgt, w in zip(b["src"], b["len"], b["dec_in"], b["tgt"], b["weights"]):
        assert list(tgt[:n]) == list(src[:n][::-1]) and tgt[n] == seq2seq.EOS and not src[n:].any()
        assert dec_in[0] == seq2seq.GO and list(dec_in[1:]) == list(tgt[:-1])
        assert list(w) == [1.0] * (n + 1) + [0.0] * (6 - n)
    assert seq2seq.accuracy(b["tgt"], b) == 1.0
    assert seq2seq.accuracy(np.roll(b["tgt"], 1, axis=1), b) < 0.5


def test_bad_arguments_are_exit_2(capsys) -> None:
    assert seq2seq.main(["--max-len", "2", "--json", "--quiet"]) == 2
    assert "`--max-len`" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]


def test_cli_trains_converts_and_decodes_identically(tmp_path, capsys) -> None:
    """`rnn-migrate example seq2seq` in this process (the command's result is the point, not a process start-up)."""
    from migration import cli

    plot = tmp_path / "loss.png"
    code = cli.main(["example", "seq2seq", "--steps", "40", "--test-size", "16", "--units", "16", "--json", "--quiet",
                     "--plot", str(plot)])
    printed = capsys.readouterr()
    assert code == 0, printed.err[-2000:]
    result = json.loads(printed.out.strip().splitlines()[-1])
    assert result["identical_ids"] == {"greedy": True, "beam": True}
    assert result["greedy_accuracy"]["legacy"] == result["greedy_accuracy"]["modern"]
    assert result["beam_accuracy"]["legacy"] == result["beam_accuracy"]["modern"]
    assert result["final_loss"] < result["first_loss"] and result["unconverted"] == []
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
