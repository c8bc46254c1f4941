"""Session fixtures for TF1 programs that modules in different test directories convert ONCE and assert on (suite
time: a TF1 build and a checked conversion cost 15-40 CPU s each).

A session fixture is per xdist worker, so the modules sharing one carry the same ``xdist_group`` mark (the group
named in the fixture's docstring): they run on one worker and the program is built and converted once. The
builders stay in the test module that owns the program; the fixtures only run them once for everyone.
"""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def mixed_attention_conversion(tmp_path_factory) -> dict:
    """tests/seq2seq/test_mixed_attention_stack.py's program (three mixed attention stacks, a TF1-form training
    graph), converted by the CLI with ``--target keras3 --target onnx`` (verify included): the Keras 2 files for that
    module, the Keras 3 ones for tests/targets/test_keras3_seq2seq.py. Group ``shared/attention``."""
    from tests.seq2seq import test_mixed_attention_stack as program

    root = tmp_path_factory.mktemp("mixed_attention_stack")
    graph = program._build(str(root))
    code, out = program._cli("convert", graph["prefix"], str(root / "conv"), "--target", "keras3",
                             "--target", "onnx")
    with open(root / "conv" / "manifest.json") as f:
        manifest = json.load(f)
    return dict(graph, code=code, out=out, root=root, conv=str(root / "conv"), manifest=manifest)


@pytest.fixture(scope="session")
def legacy_stack_conversion(tmp_path_factory) -> dict:
    """tests/seq2seq/test_legacy_stack_buckets.py's program (legacy_seq2seq models a, b, c with buckets) and its
    default conversion, for that module and tests/targets/test_legacy_seq2seq_targets.py. Group
    ``shared/legacy_stack``."""
    from tests.seq2seq import test_legacy_stack_buckets as program

    return program.build_and_convert(tmp_path_factory.mktemp("legacy_stack"))


@pytest.fixture(scope="session")
def attention_adam_conversion(tmp_path_factory) -> dict:
    """tests/seq2seq/test_cli_seq2seq.py's Bahdanau (normalize) attention decoder trained by two real Adam steps (TF
    2.x's graph form), converted by the CLI with ``--with-optimizer --target keras3 --target onnx`` (verify
    included): the Keras 2 resume of tests/seq2seq/test_seq2seq_resume.py ("v2") and the Keras 3 files of
    tests/targets/test_keras3_seq2seq.py. Group ``shared/attention``."""
    import contextlib
    import io
    import os

    from migration.cli import main
    from tests.seq2seq.test_cli_seq2seq import CONFIGS, _build

    root = tmp_path_factory.mktemp("attention_adam")
    os.makedirs(root / "graph")
    graph = _build(CONFIGS["bahdanau_norm"], str(root / "graph"), adam=True)
    out, buf = str(root / "out"), io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["convert", graph["prefix"], out, "--with-optimizer", "--target", "keras3", "--target", "onnx",
                     "--json", "--quiet"])
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    return {"graph": graph, "root": root, "out": out, "code": code, "manifest": manifest,
            "report": json.loads(buf.getvalue().strip().splitlines()[-1])}
