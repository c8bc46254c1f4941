"""``rnn-migrate upgrade``: rewrite a TF1 program so that it runs on TensorFlow 2.21 (compat) or uses tf_keras."""
from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile

from migration.core.outdir import rename_noreplace

NAME = "upgrade"
HELP = "rewrite a TF1 program or notebook for TensorFlow 2.21 (tf.compat.v1) or to tf_keras layers"

EPILOG = """\
examples:
  rnn-migrate upgrade train.py --to compat --out train_tf2.py
  rnn-migrate upgrade train.py --to compat --in-place          # writes train.py.bak first
  rnn-migrate upgrade train.py --to keras --out train_keras.py
  rnn-migrate upgrade train.py --to compat --out new.py --json # the manual-check list as JSON
  rnn-migrate upgrade model.ipynb --to compat --out model_tf2.ipynb
  rnn-migrate upgrade model.ipynb --to keras --in-place       # writes model.ipynb.bak first
  rnn-migrate upgrade proj/ --to compat --out proj_tf2/        # a whole tree (tf_upgrade_v2's --intree/--outtree)

--to compat (driven by TensorFlow's own tf_upgrade_v2 tables, with rnn-migrate's RNN table on top):
  tf.X -> tf.compat.v1.X for names that left TF2 (placeholder, Session, global_variables, assign, to_float,
  train.*Optimizer, nn.rnn_cell.*, v1 summaries, flags, app.run, ConfigProto, ...);
  argument changes: tf.nn.dropout(x, keep_prob) -> tf.nn.dropout(x, 1 - keep_prob) with a comment,
  reduction_indices= -> axis=, keep_dims= -> keepdims=, reordered positional arguments -> keywords (a TF1-only
  argument sends the call to tf.compat.v1 instead); FLAGS._parse_flags() -> FLAGS(sys.argv, known_only=True),
  FLAGS.__flags -> FLAGS.flag_values_dict();
  tf.contrib names -> their homes: TensorFlow's own cells -> tf.compat.v1.nn.rnn_cell.*, the rest of tf.contrib.rnn
  -> legacy_rnn.contrib_rnn, crf -> legacy_rnn.crf, seq2seq / legacy_seq2seq -> legacy_rnn.seq2seq[.legacy_seq2seq],
  layers / framework / learn.ModeKeys / training.HParams / the projector -> legacy_rnn.contrib_* (the family rows);
  deep imports (tensorflow.contrib.X.python.ops.Y, tensorflow.python.ops.rnn) -> the public module's home;
  `tf.nn.seq2seq = tf.contrib.legacy_seq2seq`-style patches are followed (tf stays bound);
  TF1 semantics right after the TensorFlow import when the program uses placeholders or sessions:
  tf.compat.v1.disable_v2_behavior(), tf.Variable -> tf.compat.v1.Variable; x.shape[i].value ->
  tf.compat.v1.dimension_value(x.shape[i]); Python 2 leftovers: iteritems/itervalues/iterkeys, xrange, cPickle,
  integer `/` in a shape -> `//`;
  os.environ["TF_USE_LEGACY_KERAS"] = "1" before TensorFlow is imported (only 1/true/True work).
  Comments, formatting and unrelated code are kept (libcst).
--to keras: the compat rewrite, then cells (also DropoutWrapper chains, MultiRNNCell stacks, cells returned by
  helper functions) fed to dynamic_rnn/static_rnn/bidirectional_dynamic_rnn/static_bidirectional_rnn, and
  embedding_lookup on a numpy matrix become tf_keras layers with the settings that keep the numbers equal;
  a cell class chosen at run time is listed with every candidate; convert the weights with
  `rnn-migrate convert CKPT OUT_DIR`.
Files: --in-place keeps SRC's mode bits (and the backup's); a SRC with hard links is rewritten into the same
  inode after SRC.bak is written and fsynced (every name keeps seeing one file); a symlink SRC (or DST) is refused unless
  --follow-symlinks (then the file it points to is rewritten and the link kept); a read-only SRC (or backup) is never
  rewritten, a read-only DST only with --force (as cp -f does; its mode kept); FIFOs and devices are refused.
Notebooks (.ipynb, nbformat 4): the code cells are rewritten as one program (an import in cell 1 applies to
  cell 5); IPython magics and shell lines (%matplotlib, !pip, ?obj) are kept as they are; markdown cells,
  outputs, metadata and cell ids are not touched; the TF_USE_LEGACY_KERAS bootstrap and
  disable_v2_behavior() go into the cell that imports TensorFlow; places are reported as NB[cell N]:line:col.
Directories (SRC a directory, DST a new one; --intree/--outtree and --reportfile are accepted too): every .py file
  and notebook is upgraded, every other file copied as is (.git and __pycache__ are not), symlinks recreated (never
  followed); the report (each file's changes, manual checks and errors) is written as DST/rnn-migrate-report.txt;
  a .py file that does not parse is copied unchanged and listed as an error (exit 1). The tree is written into a
  staging directory and renamed at the end: an error or a signal leaves no DST. --force replaces only a DST that
  rnn-migrate wrote (its report is there).
What cannot be rewritten exactly (tf.contrib names no home rebuilds, tf.contrib.learn, tensorflow.examples.tutorials,
dynamic getattr, dict.has_key, ...) is left as written and printed as "requires manual check" with a remedy. exit codes: 0 written and nothing to check by hand,
1 written but some items need a manual check, 2 bad usage (missing SRC, DST exists without --force,
a symlink or read-only file, a syntax error, a notebook that is not nbformat 4 JSON).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ".", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC", nargs="?", help="the TF1 Python file, Jupyter notebook (.ipynb) or directory")
    p.add_argument("--intree", "--infile", dest="src_opt", metavar="SRC", help="SRC, as tf_upgrade_v2 spells it")
    p.add_argument("--to", choices=("compat", "keras"), default="compat",
                   help="target: tf.compat.v1 (default: the program runs on TF 2.x as it is) or tf_keras layers")
    dst = p.add_mutually_exclusive_group(required=True)
    dst.add_argument("--out", "--outtree", "--outfile", dest="out", metavar="DST",
                     help="write the result here (a new directory when SRC is a directory)")
    dst.add_argument("--in-place", action="store_true", help="overwrite SRC (after writing SRC.bak)")
    p.add_argument("--force", action="store_true", help="overwrite an existing DST / SRC.bak")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="when SRC (--in-place) or DST is a symlink, rewrite the file it points to (default: refuse)")
    p.add_argument("--json", action="store_true", help="print one JSON object: changes and manual checks")
    p.add_argument("--report", "--reportfile", dest="report", metavar="FILE",
                   help="directory mode: also write the report here (it is always written as "
                   "DST/rnn-migrate-report.txt)")
    p.set_defaults(func=run)


def write_atomic(path: str, text: str, mode: int | None = None, *, replace: bool = True) -> None:
    """Write via a temporary file in the same directory, then rename (never a half-written file).

    ``replace=False``: ``FileExistsError`` instead of replacing a ``path`` that appeared meanwhile (another run writing
    the same ``--out``), through :func:`migration.core.outdir.rename_noreplace`.

    ``mode``: the permission bits to give the new file (default: what a normal ``open()`` would give, 0o666 minus
    the umask; ``mkstemp`` alone would give 0o600).
    """
    directory = os.path.dirname(os.path.abspath(path))
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=".rnn-migrate-", suffix=os.path.splitext(path)[1] or ".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())  # the backup must be on disk before SRC is rewritten in place
        os.chmod(tmp, mode)
        if replace:
            os.replace(tmp, path)
        else:
            rename_noreplace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_target(path: str, what: str, follow: bool, forced_replace: bool = False) -> str:
    """The path to write for ``path`` (SRC in place, or an existing DST): refuse symlinks unless ``follow``, refuse
    read-only files and anything that is not a regular file. Returns the real path when following a symlink.

    ``forced_replace`` (an existing ``--out DST`` with ``--force``): a read-only DST is replaced like ``cp -f`` /
    ``mv -f`` do (a new file renamed over it, its mode kept), with a note on stderr; SRC in place never is."""
    from migration.core.errors import MigrationError

    if os.path.islink(path):
        if not follow:
            raise MigrationError(
                f"{path} is a symlink (to {os.readlink(path)!r}); rnn-migrate does not replace a symlink with a file. "
                "Pass --follow-symlinks to rewrite the file it points to, or write elsewhere with --out.")
        path = os.path.realpath(path)
    if os.path.exists(path):
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise MigrationError(f"{path} ({what}) is not a regular file; nothing was written.")
        if not st.st_mode & stat.S_IWUSR and forced_replace:
            print(f"note: {path} ({what}) is read-only (mode {stat.filemode(st.st_mode)}); replaced because of "
                  "--force, its mode kept.", file=sys.stderr)
        elif not st.st_mode & stat.S_IWUSR:
            raise MigrationError(
                f"{path} ({what}) is read-only (mode {stat.filemode(st.st_mode)}); rnn-migrate does not rewrite "
                "read-only files. Make it writable first (`chmod u+w`) or write elsewhere with --out.")
    return path


def _write_outputs(src: str, dst: str, backup: str | None, source: str, new_text: str, in_place: bool, *,
                   replace: bool) -> None:
    """The backup (fsynced) then DST: renamed into place (over an existing DST only when ``replace``), or for an
    in-place SRC with hard links written into the same inode (:mod:`migration.core.inplace`), so that every name
    keeps seeing one file."""
    from migration.core.errors import MigrationError
    from migration.core.inplace import write_into_inode
    from migration.core.regular_files import read_regular

    src_mode = stat.S_IMODE(os.stat(src).st_mode)
    dst_mode = stat.S_IMODE(os.stat(dst).st_mode) if os.path.exists(dst) else None
    linked = os.stat(dst) if in_place and os.stat(dst).st_nlink > 1 else None
    original = read_regular(dst, "SRC") if linked else b""
    try:
        if backup:
            write_atomic(backup, source, src_mode)
        if linked:
            write_into_inode(dst, new_text.encode("utf-8"), original, linked, backup)
        else:
            write_atomic(dst, new_text, src_mode if in_place else dst_mode, replace=replace)
    except OSError as exc:  # unwritable directory, full disk, DST under a regular file...
        raise MigrationError(f"cannot write {exc.filename or dst}: {exc.strerror or exc}; nothing was replaced "
                             "(the output is written to a temporary file first). Choose a writable --out.") from None


def _source(args: argparse.Namespace) -> str:
    """SRC, given as the positional argument or as tf_upgrade_v2's --intree/--infile."""
    from migration.core.errors import MigrationError

    if args.src and args.src_opt and args.src != args.src_opt:
        raise MigrationError(f"two sources given ({args.src} and --intree {args.src_opt}); pass one.")
    if not (args.src or args.src_opt):
        raise MigrationError("no SRC: pass the file or directory to upgrade (or --intree DIR).")
    return args.src or args.src_opt


def _run_tree(args: argparse.Namespace, src: str) -> int:
    from migration.commands.common import EXIT_CHECK_FAILED, EXIT_OK, print_json
    from migration.core.errors import MigrationError
    from migration.core.printable import printable
    from migration.upgrade.tree import REPORT, upgrade_tree

    if args.in_place:
        raise MigrationError(f"{src} is a directory: --in-place rewrites one file; write the upgraded tree with "
                             "--out NEW_DIR.")
    if args.report and os.path.lexists(args.report) and not args.force:
        raise MigrationError(f"{args.report} already exists; pass --force to overwrite it, or choose another --report.")
    result = upgrade_tree(src, args.out, args.to, force=args.force, report=args.report)
    code = EXIT_CHECK_FAILED if result.needs_work else EXIT_OK
    if args.json:
        print_json({"src": src, "dst": args.out, "to": args.to, **result.to_dict(), "exit_code": code})
        return code
    n_changes = sum(len(f.changes) for f in result.files)
    n_manual = sum(len(f.manual) for f in result.files)
    print(printable(f"wrote {args.out} ({len(result.files)} source file(s) upgraded, {n_changes} change(s), "
                    f"{len(result.copied)} other file(s) copied; --to {args.to}); report: {os.path.join(args.out, REPORT)}"))
    for f in result.files:
        if f.manual or f.error:
            print(printable(f"  {f.path}: {len(f.manual)} manual check(s)" + (f"; error: {f.error}" if f.error else "")))
    if n_manual or any(f.error for f in result.files):
        print(f"requires manual check: {n_manual} item(s); see the report")
    return code


def run(args: argparse.Namespace) -> int:
    from migration.commands.common import EXIT_CHECK_FAILED, EXIT_OK, print_json
    from migration.core.errors import MigrationError
    from migration.upgrade import upgrade_source
    from migration.core.printable import printable
    from migration.upgrade.scan import read_text

    src = _source(args)
    if os.path.isdir(src) and not os.path.islink(src):
        return _run_tree(args, src)
    if not os.path.lexists(src):
        raise MigrationError(f"No such file: {src!r}. Pass the TF1 .py file or .ipynb notebook to upgrade.")
    if not os.path.exists(src):
        raise MigrationError(f"{src} is a broken symlink (to {os.readlink(src)!r}); nothing to upgrade.")
    if not stat.S_ISREG(os.stat(src).st_mode):
        raise MigrationError(f"{src} is not a regular file (a directory, FIFO or device); pass a .py file or an "
                             ".ipynb notebook.")
    follow = getattr(args, "follow_symlinks", False)
    if args.in_place:
        dst = _check_target(src, "SRC", follow)
        backup = dst + ".bak"
    else:
        dst, backup = args.out, None
        if os.path.lexists(dst) and not args.force:
            raise MigrationError(f"{dst} already exists; pass --force to overwrite it, or choose another --out.")
        if os.path.lexists(dst):
            dst = _check_target(dst, "DST", follow, forced_replace=True)
        if os.path.exists(dst) and os.path.samefile(dst, src):
            raise MigrationError(f"--out {args.out} is SRC itself; use --in-place (it writes a backup first).")
    if backup and os.path.lexists(backup) and not args.force:
        raise MigrationError(f"{backup} already exists (a backup from an earlier run?); move it away or pass --force.")
    if backup and os.path.lexists(backup):
        _check_target(backup, "backup", False)
    try:
        source = read_text(src)
    except ValueError as exc:
        raise MigrationError(f"{src}: {exc}") from None
    if src.endswith(".ipynb"):
        from migration.upgrade.notebook_rewrite import upgrade_notebook
        from migration.upgrade.notebooks import NotebookError

        try:
            result = upgrade_notebook(source, args.to, src)
        except NotebookError as exc:
            raise MigrationError(f"{src}: {exc}") from None
        sep, new_text = "", result.text
    else:
        try:
            result = upgrade_source(source, args.to, src)
        except SyntaxError as exc:
            raise MigrationError(f"{src}:{exc.lineno}: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise MigrationError(f"{src}: the code nests too deeply for Python's parser; nothing was written") from None
        except ValueError as exc:  # NUL characters and the like
            raise MigrationError(f"{src}: cannot be parsed ({exc}); nothing was written") from None
        sep, new_text = ":", result.code
    _write_outputs(src, dst, backup, source, new_text, args.in_place,
                   replace=bool(args.in_place or args.force))  # else a DST created meanwhile is kept
    code = EXIT_CHECK_FAILED if result.manual_checks else EXIT_OK
    if args.json:
        print_json({"src": src, "dst": dst, "backup": backup, "to": args.to, "changes": result.changes,
                    "manual_checks": [vars(m) for m in result.manual_checks], "exit_code": code})
        return code
    print(printable(f"wrote {dst} ({len(result.changes)} change(s); --to {args.to})"
                    + (f"; backup {backup}" if backup else "")))  # file names with escapes cannot forge lines
    for change in result.changes:
        print(printable(f"  {src}{sep}{change}"))
    if result.manual_checks:
        print(f"requires manual check ({len(result.manual_checks)}):")
        for m in result.manual_checks:
            print(printable(f"  {src}{sep}{m}"))
    return code
