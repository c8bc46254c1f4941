"""The demo runs the examples' tests share (each costs a whole TF1 training, conversion and Keras resume).

``demo_pair``: two ``rnn-migrate demo`` runs with the same seed, each in an EMPTY working directory: the first a
fresh ``python -m migration`` process with ``TF_CPP_MIN_LOG_LEVEL`` unset and no ``--workdir`` (its temporary
directory must be removed, its stderr must be quiet), the second in the test process with ``--workdir`` (its files
are inspected; stdout, stderr and file descriptor 2 captured). tests/examples/test_ux_examples.py compares their figures
(same seed, same figures) and checks the first's clean-up; tests/examples/test_demo.py checks the second's files
and figures. Both modules carry ``xdist_group("demo")`` so one xdist worker makes the pair once."""
from __future__ import annotations

import json
from typing import NamedTuple

import pytest

from tests.ux import run_cli, run_cli_in_process

PLOT, LOGDIR = "out/plots/loss.png", "out/tb"
STEPS, KERAS_STEPS = 30, 10
# the default keep_prob (0.75): the DropoutWrapper's in-loop masks are reproduced too (parallel_iterations=1)
DEMO = ["demo", "--steps", str(STEPS), "--keras-steps", str(KERAS_STEPS), "--seed", "3", "--json", "--plot", PLOT,
        "--logdir", LOGDIR]


class DemoRun(NamedTuple):
    proc: object  # subprocess.CompletedProcess
    cwd: object  # pathlib.Path
    report: dict
    workdir: object  # pathlib.Path or None


@pytest.fixture(scope="session")
def demo_pair(tmp_path_factory) -> tuple[DemoRun, DemoRun]:
    runs = []
    for k, keep in enumerate((False, True)):
        cwd = tmp_path_factory.mktemp(f"demo{k}")
        workdir = cwd / "work" if keep else None
        if keep:  # in this process (a fresh one costs a TensorFlow import and a sandbox child): same seed, same
            # figures as the fresh process is then also a check that the demo does not depend on the caller's state
            proc = run_cli_in_process(*DEMO, "--workdir", str(workdir), cwd=cwd)
        else:
            proc = run_cli(*DEMO, cwd=cwd)
        lines = proc.stdout.strip().splitlines()
        runs.append(DemoRun(proc, cwd, json.loads(lines[-1]) if lines else {}, workdir))
    return runs[0], runs[1]
