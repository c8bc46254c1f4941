"""Suite-wide set-up: the project packages are imported first so that TF_USE_LEGACY_KERAS is set before TensorFlow."""
import os

import pytest

import migration  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any test imports TensorFlow)
from migration.core import gc_tuning, op_traces

gc_tuning.tune()  # the collector thresholds of rnn-migrate's own processes (the tests build graphs as the CLI does)
op_traces.skip()  # and their graph ops without recorded Python stacks (RNN_MIGRATE_OP_TRACEBACKS=1 keeps them)

#: session fixtures of programs that modules in several directories convert once (tests/shared_programs.py)
pytest_plugins = ["tests.shared_programs"]


#: test directories whose modules each run on one xdist worker (``--dist loadgroup``): a module's module-scoped
#: fixtures (a TF graph, a checkpoint, a conversion) are built once, not once on each worker
_ONE_WORKER_PER_MODULE = ("checkpoint", "targets", "seq2seq")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the mark into the node id's @group suffix
def pytest_collection_modifyitems(items) -> None:
    """Mark each test of those directories with its module's xdist group; a module's own xdist_group mark wins."""
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        folder = os.path.relpath(os.path.dirname(str(item.path)), here)
        if folder in _ONE_WORKER_PER_MODULE and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(f"{folder}/{os.path.basename(str(item.path))}"))


#: the repository's own Python trees, compiled to bytecode once before any worker or child process imports them
_OWN_TREES = ("legacy_rnn", "modern_rnn", "migration", "examples", "tests")


def pytest_configure(config) -> None:
    """Write the ``__pycache__`` bytecode of the project's own modules (in the controller, before xdist starts its
    workers). Python does that on first import, unless ``PYTHONDONTWRITEBYTECODE`` is set (as on some CI images):
    then every one of the suite's ~150 child processes that imports ``migration`` (commands, sandbox children,
    distributed workers) recompiles it from source, ~0.5 CPU s each (``docs/benchmarks.md``, "The test suite's
    time"). ``__pycache__/`` is git-ignored; a read-only checkout is left as it is."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    import compileall

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for tree in _OWN_TREES:
        if os.access(os.path.join(root, tree), os.W_OK):
            compileall.compile_dir(os.path.join(root, tree), quiet=2)
