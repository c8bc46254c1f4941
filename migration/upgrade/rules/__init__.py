"""The upgrade rules, as one table: ``scan`` and ``upgrade --to compat`` both run exactly these rows, in this order
(:func:`migration.upgrade.plan.make_plan`), so ``scan`` reports every site ``upgrade`` changes or leaves.

Each rule is one module with its before/after examples (``tests/upgrade/test_rules.py`` runs every example through
``upgrade`` and ``scan``). Adding a rule = one module + one row here. ``docs/upgrading.md`` lists them.
"""
from __future__ import annotations

from migration.upgrade.rules import (
    call_arguments, cell_choice, contrib_rnn_core, contrib_summary, dimension_value, dropout, dynamic_getattr, flags_private, graph_mode, imports,
    legacy_keras, module_alias, py2_leftovers, shape_division, star_import, tf_names, variable_v1,
)
from migration.upgrade.rules.base import PHASES, Example, Rule

#: Every rule, in the order it runs within its phase (the phases run in :data:`PHASES` order). For ``ref``, ``call``
#: and ``call_first``, the first rule that returns True owns the reference.
RULES: tuple[Rule, ...] = (
    flags_private.PARSE,
    contrib_summary.RULE,
    star_import.RULE,
    cell_choice.RULE,
    dynamic_getattr.RULE,
    flags_private.DICT,
    contrib_rnn_core.ALIAS,
    variable_v1.RULE,
    tf_names.RULE,
    module_alias.COLLECT,
    module_alias.ALIAS_USES,
    contrib_rnn_core.IMPORT,
    imports.RULE,
    dropout.RULE,
    call_arguments.RULE,
    dimension_value.RULE,
    py2_leftovers.RULE,
    shape_division.RULE,
    graph_mode.RULE,
    legacy_keras.BOOTSTRAP_RULE,
    legacy_keras.HEADER,
)

BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}

__all__ = ["RULES", "BY_NAME", "PHASES", "Example", "Rule"]
