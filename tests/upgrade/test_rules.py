"""Every upgrade rule's before/after examples, run through ``upgrade --to compat`` and ``scan`` by one helper (like
TensorFlow's ``tf_upgrade_v2_test.py``), and the table's own contract: one table that both read, every rule with
examples, scan == upgrade on every example."""
from __future__ import annotations

import ast

import pytest

from migration.upgrade import upgrade_source
from migration.upgrade.plan import make_plan
from migration.upgrade.resolve import collect
from migration.upgrade.rules import BY_NAME, PHASES, RULES, Example
from migration.upgrade.rules.legacy_keras import BOOTSTRAP
from migration.upgrade.scan import scan_source

CASES = [(rule.name, i, ex) for rule in RULES for i, ex in enumerate(rule.examples)]


def upgraded(before: str) -> tuple[str, list[str]]:
    """The compat upgrade without the bootstrap lines (every example would carry them), and its manual symbols."""
    result = upgrade_source(before, "compat")
    return result.code.replace(BOOTSTRAP, "", 1), [m.symbol for m in result.manual_checks]


def check_example(ex: Example) -> None:
    code, manual = upgraded(ex.before)
    assert code == (ex.before if ex.after is None else ex.after)
    assert sorted(set(ex.manual)) == sorted(set(manual) & set(ex.manual)) and set(manual) <= set(ex.manual), manual
    again, _ = upgraded(code)
    assert again == code, "the upgrade of an upgraded example changed it again"


@pytest.mark.parametrize("name, index, ex", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_example(name, index, ex):
    check_example(ex)


@pytest.mark.parametrize("name, index, ex", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_scan_reports_what_upgrade_does(name, index, ex):
    """scan's rewrite findings (plus the set-up lines) are exactly upgrade's changes; its manual findings, upgrade's
    manual checks."""
    result = upgrade_source(ex.before, "compat")
    setup: list = []
    findings = scan_source(ex.before, setup=setup)
    changed = sorted(tuple(int(v) for v in c.split(":")[:2]) for c in result.changes)
    scanned = sorted((f.line, f.col) for f in findings + setup if f.severity == "rewrite")
    assert scanned == changed
    assert sorted((f.line, f.col) for f in findings if f.severity == "manual") == sorted(
        (m.line, m.col) for m in result.manual_checks)


def test_every_rule_is_in_the_table_once_with_examples():
    assert len(BY_NAME) == len(RULES)
    assert all(r.phase in PHASES for r in RULES)
    assert [r.name for r in RULES if not r.examples] == ["module_alias"]  # a collector: `imports` has its examples


def test_each_site_names_the_rule_that_made_it():
    source = ("import tensorflow as tf\nx = tf.placeholder(tf.float32, [None, n / 2])\nfor i in xrange(3):\n    "
              "y = tf.nn.dropout(x, 0.5)\n")
    tree = ast.parse(source)
    plan = make_plan(collect(tree, source.splitlines()), source.splitlines(), tree)
    assert {s.rule for s in plan.sites} == {"tf_names", "shape_division", "py2_leftovers", "dropout_keep_prob",
                                            "graph_mode", "legacy_keras"}
    assert all(s.rule in BY_NAME for s in plan.sites)


def test_the_helper_can_fail():
    """Negative control: a wrong expected text, a missing manual check and an unexpected one are all caught."""
    good = BY_NAME["tf_names"].examples[0]
    with pytest.raises(AssertionError):
        check_example(Example(good.before, good.after.replace("compat.v1.placeholder", "placeholder")))
    with pytest.raises(AssertionError):
        check_example(Example(good.before, good.after, ("tf.placeholder",)))
    manual = BY_NAME["imports"].examples[-1]
    with pytest.raises(AssertionError):
        check_example(Example(manual.before, manual.after, ()))


def test_a_rule_removed_from_the_table_changes_scan_and_upgrade_alike():
    """scan and upgrade read the same table: without ``py2_leftovers`` neither rewrites ``xrange``."""
    source = "for i in xrange(3):\n    pass\n"
    tree = ast.parse(source)
    lines = source.splitlines()
    full = make_plan(collect(tree, lines), lines, tree)
    full.sites and None
    without = type(full)(collect(tree, lines), lines, tree)
    without.plan(tuple(r for r in RULES if r.name != "py2_leftovers"))
    assert [s.symbol for s in full.sites] == ["xrange"] and without.sites == []


def test_scan_json_lists_the_lines_upgrade_adds(tmp_path, capsys):
    import json

    from migration.cli import main

    path = tmp_path / "p.py"
    path.write_text("import tensorflow as tf\nx = tf.placeholder(tf.float32)\ny = tf.contrib.crf.crf_decode(a, b, c)\n")
    assert main(["scan", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(f["upgrade"] for f in data["setup"]) == [
        "import legacy_rnn.crf", "os.environ['TF_USE_LEGACY_KERAS'] = '1'", "tf.compat.v1.disable_v2_behavior()"]
    assert [f["upgrade"] for f in data["findings"] if f["severity"] == "rewrite"] == [
        "tf.compat.v1.placeholder", "legacy_rnn.crf.crf_decode"]
