"""What a conversion directory holds, against what its manifest says ``convert`` wrote.

``convert`` records every file it writes in the manifest's ``files`` field: ``{relative path: {"sha256": hex,
"bytes": size}}`` (``manifest.json`` itself excluded; paths use ``/``). Two readers:

* :func:`directory_problems` (``verify``): a file in the directory that the manifest does not record (or that no
  manifest entry refers to), a recorded file that is missing, a file whose size or sha256 changed. Each is named.
  A manifest written before the ``files`` field existed (``files`` absent) gets the weaker check: extra and missing
  files only, measured against the files its entries refer to; a changed file is then caught only where it changes a
  number the numerical verification compares (the notes say so).
* :func:`unrecorded_files` (``--force``): anything in OUT that convert did not write, so that ``--force`` refuses
  instead of deleting a user's file.

The hashes detect a replaced, added or damaged file; they are not a signature: someone who rewrites the manifest can
rewrite them too (the numerical verification still compares every block and model the manifest lists).
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Iterator

RECORD = "files"
MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def entries(out_dir: str) -> Iterator[tuple[str, str]]:
    """``(relative path with '/', full path)`` of everything in ``out_dir`` that is not a directory (symbolic links,
    to directories too, and special files included; not followed), ``manifest.json`` excluded; sorted."""
    found = []
    for root, dirs, files in os.walk(out_dir, followlinks=False):
        linked = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = sorted(d for d in dirs if d not in linked)
        for name in files + linked:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, out_dir).replace(os.sep, "/")
            if rel != MANIFEST_NAME:
                found.append((rel, full))
    yield from sorted(found)


def record_files(out_dir: str) -> dict[str, dict[str, Any]]:
    """The ``files`` record of ``out_dir``: every regular file's sha256 and size."""
    record = {}
    for rel, full in entries(out_dir):
        if os.path.isfile(full) and not os.path.islink(full):
            record[rel] = {"sha256": sha256_file(full), "bytes": os.path.getsize(full)}
    return record


def referenced(manifest: Any) -> set[str]:
    """Every string anywhere in the manifest outside ``files`` (the entries' file references among them)."""
    out: set[str] = set()
    stack = [v for k, v in manifest.items() if k != RECORD] if isinstance(manifest, dict) else [manifest]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.add(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def unrecorded_files(out_dir: str, manifest: dict[str, Any]) -> list[str]:
    """Entries of ``out_dir`` that convert did not write: not in ``files`` (or, for an older manifest without it, not
    referred to by any entry), not a regular file, or of another size than recorded."""
    record = manifest.get(RECORD)
    refs = referenced(manifest)
    out = []
    for rel, full in entries(out_dir):
        regular = os.path.isfile(full) and not os.path.islink(full)
        if not regular or rel not in refs and (record is None or rel not in record):
            out.append(rel)
        elif record is not None and (rel not in record or os.path.getsize(full) != record[rel].get("bytes")):
            out.append(rel)
    return out


def directory_problems(out_dir: str, manifest: dict[str, Any], listed: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """``([(file, what is wrong)], notes)`` for ``verify`` (see the module docstring); ``listed`` are the manifest's
    structural file references (:func:`migration.checkpoint.manifest.manifest_files`)."""
    record = manifest.get(RECORD)
    refs = referenced(manifest)
    present = dict(entries(out_dir))
    problems: list[tuple[str, str]] = []
    for rel, full in present.items():
        if os.path.islink(full) or not os.path.isfile(full):
            problems.append((rel, "not a regular file (convert writes none)"))
        elif record is not None and rel not in record:
            problems.append((rel, "extra file: not in the manifest's file list (convert did not write it)"))
        elif rel not in refs:
            problems.append((rel, "extra file: no manifest entry refers to it (convert did not write it, or its "
                                  "entry was removed from the manifest)"))
    if record is None:
        for rel in sorted(set(listed)):
            if rel.replace(os.sep, "/") not in present:
                problems.append((rel, "missing: the manifest refers to it"))
        return problems, ["the manifest has no file list with hashes (written by an older rnn-migrate): only extra "
                          "and missing files were checked; a changed file is caught only where it changes a "
                          "compared number. Re-run `rnn-migrate convert --force` to record sha256 hashes."]
    for rel, want in sorted(record.items()):
        full = present.get(rel)
        if full is None:
            problems.append((rel, "missing: convert wrote it (in the manifest's file list)"))
        elif os.path.isfile(full) and not os.path.islink(full):
            if os.path.getsize(full) != want.get("bytes") or sha256_file(full) != want.get("sha256"):
                problems.append((rel, "changed since convert wrote it (sha256 differs from the manifest)"))
    return problems, []


__all__ = ["RECORD", "directory_problems", "directory_rows", "entries", "record_files", "referenced", "sha256_file",
           "unrecorded_files"]


def directory_rows(out_dir: str, manifest: dict[str, Any],
                   listed: list[str]) -> tuple[list[tuple[str, str, float]], list[str], bool]:
    """The directory check as ``verify`` reports it: rows ``(what, output, difference)`` (``inf`` for each problem,
    one ``0.0`` row when everything matches), notes, and whether the numerical comparison cannot run (a file is
    missing or is not a regular file: nothing is loaded then)."""
    problems, notes = directory_problems(out_dir, manifest, listed)
    if problems:
        stop = any(what.startswith(("missing", "not a regular file")) for _, what in problems)
        notes.append("the directory does not match its manifest" + (
            ", so no file of it was loaded and no number was compared" if stop else "") +
            "; re-run `rnn-migrate convert --force` (after moving your own files out)")
        return [(f"file {rel}", what, float("inf")) for rel, what in problems], notes, stop
    record = manifest.get(RECORD)
    if record is None:
        return [("directory", f"{len(set(listed))} files the manifest refers to, nothing else", 0.0)], notes, False
    return [("directory", f"{len(record)} files, sha256 as recorded, nothing else", 0.0)], notes, False
