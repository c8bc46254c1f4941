"""Put the Keras statements of ``upgrade --to keras`` in place of the TF1 lines they replace (libcst, by line)."""
from __future__ import annotations

import libcst as cst
from libcst.metadata import PositionProvider


def _emptied(body):
    """A block whose statements were all folded into a layer gets ``pass``."""
    if body.body:
        return body
    return body.with_changes(body=[cst.parse_statement("pass")])


class Replace(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, replace: dict[int, list[str]], import_line: int):
        super().__init__()
        self.replace, self.import_line = replace, import_line

    def leave_For(self, original_node, updated_node):  # noqa: D102
        line = self.get_metadata(PositionProvider, original_node).start.line
        new = self.replace.get(line)
        if new is None:
            return updated_node
        if not new:
            return cst.RemovalSentinel.REMOVE
        # a cell stepped by hand (migration.upgrade.keras_unroll): the loop becomes the layer's statements
        comments = [cst.EmptyLine(comment=cst.Comment(c)) for c in new if c.startswith("#")]
        stmts = [cst.parse_statement(c) for c in new if not c.startswith("#")]
        stmts[0] = stmts[0].with_changes(leading_lines=list(updated_node.leading_lines) + comments)
        return cst.FlattenSentinel(stmts)

    def leave_IndentedBlock(self, original_node, updated_node):  # noqa: D102
        return _emptied(updated_node)

    def leave_SimpleStatementLine(self, original_node, updated_node):  # noqa: D102
        line = self.get_metadata(PositionProvider, original_node).start.line
        new = self.replace.get(line)
        out: list[cst.SimpleStatementLine] = [updated_node]
        if new is not None:
            comments = [cst.EmptyLine(comment=cst.Comment(c)) for c in new if c.startswith("#")]
            stmts = [cst.parse_statement(c) for c in new if not c.startswith("#")]
            if not new:
                return cst.RemovalSentinel.REMOVE  # a cell folded into the layer below
            stmts[0] = stmts[0].with_changes(leading_lines=list(updated_node.leading_lines) + comments)
            out = stmts  # type: ignore[assignment]
        if line == self.import_line:
            out = out + [cst.parse_statement("import tf_keras  # rnn-migrate: Keras 2")]  # type: ignore[list-item]
        return cst.FlattenSentinel(out) if len(out) > 1 else out[0]
