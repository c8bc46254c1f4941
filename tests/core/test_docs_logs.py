"""The docs quote tables, not tool logs; the tf_upgrade_v2 comparison prints its table only (issue: clean docs)."""
from __future__ import annotations

import importlib.util
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: A line of tf_upgrade_v2's per-line log ("INFO line 22:8: Renamed ...").
LOG_LINE = re.compile(r"^(INFO|WARNING|ERROR) line \d+:\d+: ", re.MULTILINE)


def test_no_docs_page_holds_a_pasted_tf_upgrade_v2_log():
    pasted = {p.name: len(LOG_LINE.findall(p.read_text(encoding="utf-8"))) for p in (ROOT / "docs").glob("*.md")}
    assert not {name: n for name, n in pasted.items() if n}, pasted


def test_the_comparison_sends_tf_upgrade_v2s_log_to_its_log_file_not_stdout(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("compare_tf_upgrade_v2", ROOT / "benchmarks" / "compare_tf_upgrade_v2.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    log = io.StringIO()
    code, _ = bench.tf_upgrade_v2("import tensorflow as tf\nx = tf.placeholder(tf.float32)\n", tmp_path, log)
    assert "tf.compat.v1.placeholder" in code
    assert LOG_LINE.search(log.getvalue()), log.getvalue()        # the log exists and went to the log file
    assert not LOG_LINE.search(capsys.readouterr().out)
