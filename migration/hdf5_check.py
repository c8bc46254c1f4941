"""HDF5 files (a ``.keras`` archive's ``model.weights.h5``, a legacy ``.h5`` model) checked before anything reads them.

HDF5 can point outside the file it is in: a dataset with *external storage* keeps its bytes in another file named by
path, a *virtual dataset* maps other files' datasets, an *external link* opens another file, a *soft link* aliases
another object; a *filter* that is not built in makes HDF5 look for a plugin library to load. Read through Keras,
any of these copies bytes of an arbitrary file into the model (and so into an exported checkpoint), or loads code.
:func:`check_hdf5` walks every link of the file with h5py's low-level API (no dataset is read) and refuses:

* any link that is not a hard link (soft, external, user-defined);
* a dataset with external storage (``dcpl.get_external_count() > 0``) or a virtual layout (``h5d.VIRTUAL``), or any
  layout other than compact, contiguous and chunked;
* a filter other than :data:`ALLOWED_FILTERS` (gzip, shuffle, fletcher32, lzf; tf_keras writes none);
* a dataset of a non-numeric type (references, strings, compound), whose declared size cannot be in the file
  (contiguous or compact: more bytes than the file; chunked: more than :data:`MAX_EXPANSION` times the file, beyond
  what gzip can compress), or a contiguous dataset whose bytes lie past the end of the file.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from migration.core.errors import MigrationError

#: gzip's best ratio is about 1032:1; a chunked dataset may declare at most this many times the file's size.
MAX_EXPANSION = 1100


def _allowed_filters() -> dict[int, str]:
    from h5py import h5z

    return {h5z.FILTER_DEFLATE: "gzip", h5z.FILTER_SHUFFLE: "shuffle", h5z.FILTER_FLETCHER32: "fletcher32",
            32000: "lzf"}


def _dataset_problem(ds: Any, file_size: int) -> Optional[str]:
    from h5py import h5d

    dcpl = ds.id.get_create_plist()
    if dcpl.get_external_count() > 0:
        target = dcpl.get_external(0)[0]
        return f"its bytes are stored in another file ({target!r}: HDF5 external storage)"
    layout = dcpl.get_layout()
    if layout == getattr(h5d, "VIRTUAL", -99):
        return "it is a virtual dataset (its bytes come from other files)"
    if layout not in (h5d.COMPACT, h5d.CONTIGUOUS, h5d.CHUNKED):
        return f"unknown storage layout {layout}"
    allowed = _allowed_filters()
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code not in allowed:
            return (f"filter {code} is not one of the built-in {sorted(allowed.values())} (HDF5 would load a plugin "
                    "library to read it)")
    if ds.dtype.kind not in "biufc":
        return f"dtype {ds.dtype} is not numeric (weights are numbers)"
    shape = ds.shape or ()
    if any(d < 0 for d in shape):
        return f"negative dimension in shape {shape}"
    nbytes = ds.dtype.itemsize
    for d in shape:
        nbytes *= int(d)
    if layout == h5d.CHUNKED:
        if nbytes > MAX_EXPANSION * file_size + (1 << 20):
            return f"declares {nbytes} bytes, more than a {file_size}-byte file can hold even compressed"
        return None
    if nbytes > file_size:
        return f"declares {nbytes} bytes of uncompressed data in a {file_size}-byte file"
    offset = ds.id.get_offset() if layout == h5d.CONTIGUOUS else None
    if offset is not None and offset + nbytes > file_size:
        return f"its data lies past the end of the file (offset {offset}, {nbytes} bytes, file {file_size} bytes)"
    return None


def hdf5_problem(source: Any, file_size: int) -> Optional[str]:
    """The first reason (``object path: why``) to refuse the HDF5 file ``source`` (a path or a seekable binary file
    object of ``file_size`` bytes), else None. Not an HDF5 file: :class:`OSError` from h5py."""
    import h5py

    found: list[str] = []
    total = [0]

    def visit(name: str, link: Any) -> Optional[bool]:
        if not isinstance(link, h5py.HardLink):
            kind = type(link).__name__
            target = getattr(link, "path", "")
            extra = f" to {getattr(link, 'filename', '')!r}:{target!r}" if isinstance(link, h5py.ExternalLink) else \
                f" to {target!r}" if target else ""
            found.append(f"/{name}: a {kind}{extra}; only hard links are read")
            return True
        obj = handle.get(name)
        if isinstance(obj, h5py.Dataset):
            problem = _dataset_problem(obj, file_size)
            if problem:
                found.append(f"/{name}: {problem}")
                return True
            total[0] += obj.dtype.itemsize * int(obj.size or 0)
        return None

    with h5py.File(source, "r") as handle:
        handle.visititems_links(visit)
    if found:
        return found[0]
    if total[0] > MAX_EXPANSION * file_size + (1 << 20):
        return f"its datasets declare {total[0]} bytes in all, more than a {file_size}-byte file can hold"
    return None


def check_hdf5(source: Any, where: str, file_size: Optional[int] = None) -> None:
    """:class:`MigrationError` naming ``where`` and the object when :func:`hdf5_problem` finds one (or the file is no
    HDF5 file). ``source``: a path (``file_size`` defaults to its size) or a seekable binary file object."""
    if file_size is None:
        file_size = os.stat(source).st_size
    try:
        problem = hdf5_problem(source, file_size)
    except MigrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError, ValueError, KeyError on damaged files
        text = str(exc).strip().splitlines()
        raise MigrationError(f"Cannot read the HDF5 file {where}: {text[0] if text else type(exc).__name__}. The file "
                             "is damaged or not HDF5; re-save the model with model.save('model.keras').") from None
    if problem:
        raise MigrationError(
            f"Refused {where}: {problem}. rnn-migrate reads HDF5 weights only when every dataset is stored inside the "
            "file itself (no external storage, virtual datasets, soft or external links, or plugin filters). Re-save "
            "the model with model.save('model.keras') from the code that built it.")
