"""pytest plugin of :mod:`survey_targets` (issue 24): record every conversion a test runs that writes a whole model.

Loaded with ``-p survey_record`` (``benchmarks/`` on ``PYTHONPATH``; :mod:`survey_targets` does that) and
``RNN_MIGRATE_SURVEY_DIR`` set. It wraps :func:`migration.checkpoint.convert.convert_checkpoint` (and the name
``migration.checkpoint`` re-exports) before any test module imports it; after each call whose manifest has a
``model`` (a ``model.keras`` was written) and no ``--target``, it copies the checkpoint's files (prefix, index, data
shards, ``.meta``; the explicit ``--meta`` too) into ``$RNN_MIGRATE_SURVEY_DIR/ckpt/<key>/`` (the test may corrupt
or delete its files afterwards) and appends one JSON line to ``records-<pid>.jsonl``: the test's node id, the
options of the call (what the manifest records: forget_bias, outputs, use_ema, with_optimizer, meta) and the copy.
``key`` is the sha256 of the files and options, so a checkpoint converted by many tests is copied once. Conversions
that run in a child process (``run_cli``) are found afterwards from their ``manifest.json`` (:mod:`survey_targets`).
Nothing of the product is changed: the wrapper returns what the real function returns, and re-raises what it raises.
"""
from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import shutil

DIR = os.environ.get("RNN_MIGRATE_SURVEY_DIR")
_CURRENT = {"nodeid": None}
_SEEN: set = set()


def _files(prefix: str, meta) -> list[str]:
    found = sorted(p for p in glob.glob(glob.escape(prefix) + ".*") if os.path.isfile(p))
    return found + ([meta] if meta and meta not in found and os.path.isfile(meta) else [])


def _record(kwargs: dict, result) -> None:
    manifest = result.manifest
    if not manifest.get("model") or kwargs.get("targets") or not manifest.get("checkpoint"):
        return
    prefix, meta = manifest["checkpoint"], kwargs.get("meta_path")
    options = {k: kwargs.get(k) for k in ("forget_bias", "outputs", "use_ema", "with_optimizer")}
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    files = _files(prefix, meta)
    for path in files:
        digest.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    key = digest.hexdigest()[:16]
    copy = os.path.join(DIR, "ckpt", key)
    if key not in _SEEN and not os.path.isdir(copy):
        tmp = copy + f".tmp{os.getpid()}"
        os.makedirs(tmp, exist_ok=True)
        for path in files:
            shutil.copy2(path, os.path.join(tmp, os.path.basename(path)))
        try:
            os.rename(tmp, copy)
        except OSError:  # another worker copied it first
            shutil.rmtree(tmp, ignore_errors=True)
    _SEEN.add(key)
    row = {"nodeid": _CURRENT["nodeid"], "key": key, "prefix": os.path.join(copy, os.path.basename(prefix)),
           "meta": os.path.join(copy, os.path.basename(meta)) if meta else None, "out": str(result.out_dir),
           "options": options, "outputs": manifest["model"].get("outputs")}
    with open(os.path.join(DIR, f"records-{os.getpid()}.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(row, default=str) + "\n")


def _install() -> None:
    import migration.checkpoint as package
    import migration.checkpoint.convert as module

    real = module.convert_checkpoint

    @functools.wraps(real)
    def convert_checkpoint(checkpoint, out_dir, **kwargs):
        result = real(checkpoint, out_dir, **kwargs)
        try:
            _record(kwargs, result)
        except Exception as exc:  # noqa: BLE001 - the survey must never change a test's outcome
            with open(os.path.join(DIR, f"errors-{os.getpid()}.txt"), "a", encoding="utf-8") as f:
                f.write(f"{_CURRENT['nodeid']}: {type(exc).__name__}: {exc}\n")
        return result

    module.convert_checkpoint = package.convert_checkpoint = convert_checkpoint


if DIR:
    os.makedirs(os.path.join(DIR, "ckpt"), exist_ok=True)
    _install()


def pytest_runtest_setup(item):
    _CURRENT["nodeid"] = item.nodeid


def pytest_runtest_call(item):
    _CURRENT["nodeid"] = item.nodeid
