"""What a model folder holds, and the one policy for its ``meta.json``.

A model folder holds ``meta.json``, ``vocab.txt`` (one word a line, most frequent first),
``vectors.npy`` (float32 [V, D], raw), ``norms.npy`` (float32 [V]), optionally ``counts.npy``
(int64 [V]), for FastText ``ngrams.npy`` (float32 [buckets, D]) and, for a model trained with
phrases (``emb train --phrases N``), ``phrases.tsv`` (``embcli.phrasing.PhraseTable``; its settings
are ``meta["phrases"]``). Nothing is pickled; arrays are
loaded with ``allow_pickle=False`` and memory-mapped. Optional parts (``search-index/``) are rebuilt
by the features that use them. A model trained by emb keeps its training state in ``state/`` (see
``STATE_FILES``) unless trained with ``--no-state``: what ``emb train --continue`` resumes from.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from embcli._version import __version__
from embcli.errors import ModelError
from embcli.names import POS_FILTERS, TOKENIZER_MODES

FORMAT_VERSION = 1

META = "meta.json"
VOCAB = "vocab.txt"
VECTORS = "vectors.npy"
NORMS = "norms.npy"
COUNTS = "counts.npy"
NGRAMS = "ngrams.npy"
PHRASES = "phrases.tsv"
# Compressed folders (``emb compress``) replace vectors.npy by these, as meta["storage"] says
# ({"kind": "float16" | "int8" | "pq", ...}); embcli.folder.storage decodes them.
VECTORS_F16 = "vectors.float16.npy"
VECTORS_I8 = "vectors.int8.npy"
SCALES = "scales.npy"
PQ_CODES = "pq.codes.npy"
PQ_CODEBOOKS = "pq.codebooks.npy"
PQ_ROTATION = "pq.rotation.npy"
# An approximate-neighbour index (``emb index``): a folder of its own, rebuilt by the command.
ANN_DIR = "ann-index"
ANN_INFO = "index.json"
# FastText n-gram rows compressed or pruned (meta["ngram_storage"]; embcli.folder.ngram_rows reads them).
NGRAMS_F16 = "ngrams.float16.npy"
NGRAMS_I8 = "ngrams.int8.npy"
NGRAMS_SCALES = "ngrams.scales.npy"
NGRAM_BUCKETS = "ngrams.buckets.npy"
NGRAM_FILES = (NGRAMS_F16, NGRAMS_I8, NGRAMS_SCALES, NGRAM_BUCKETS)
STORAGE_FILES = (VECTORS_F16, VECTORS_I8, SCALES, PQ_CODES, PQ_CODEBOOKS, PQ_ROTATION) + NGRAM_FILES
# The files that make up a model (search indexes and other caches are not part of it).
MODEL_FILES = (META, VOCAB, VECTORS, NORMS, COUNTS, NGRAMS, PHRASES) + STORAGE_FILES
REQUIRED_FILES = (META, VOCAB, VECTORS)

# The training state (``emb train --continue``), rows in the order of vocab.txt. Word2Vec keeps its
# output rows (its input rows are vectors.npy); FastText its word and ``</s>`` input rows before
# composing with the n-grams (ngrams.npy holds the rest) and its output rows, ``</s>`` last; GloVe its
# word rows (input), context rows (output), biases (words' then contexts') and AdaGrad's
# squared-gradient sums less 1 (words' then contexts', the bias's last). ``rare.txt`` and
# ``rare.counts.npy`` are the words counted but left out of the vocabulary (too rare) and their
# counts, so that a word can reach --min-count over old and new text. meta["state"] lists the files.
STATE = "state"
STATE_FILES = {
    "input": "state/input.npy",
    "output": "state/output.npy",
    "biases": "state/biases.npy",
    "gradsq": "state/gradsq.npy",
    "rare_counts": "state/rare.counts.npy",
    "rare_words": "state/rare.txt",
    # GloVe: each pair of words once (a <= b) and its co-occurrence count (``training.glove.carry``).
    "cooc_pairs": "state/cooc.pairs.npy",
    "cooc_x": "state/cooc.x.npy",
}

# Imported vocabularies are taken as they are: query words are matched exactly.
EXACT_TOKENIZER = {"mode": "whitespace", "lowercase": False, "min_token_length": 1}


def complete_meta(meta: dict, vocab_size: int, dim: int) -> dict:
    """``meta`` with the fields every folder has: the one metadata policy of every writer.

    The format and emb versions, the creation time, the vocabulary size and dimension are always
    set here; an algorithm and a tokenizer are filled in only when the producer gave none.
    """
    out = dict(meta)
    # The writer stores float32 vectors.npy: a storage kind carried over from elsewhere (an exported
    # file's metadata) must not describe it. storage.write_compressed sets its own after this policy.
    out.pop("storage", None)
    out.pop("compression", None)
    out.pop("ngram_storage", None)
    out.setdefault("algorithm", "imported")
    out.setdefault("tokenizer", dict(EXACT_TOKENIZER))
    out.update(
        format_version=FORMAT_VERSION,
        emb_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        vocab_size=int(vocab_size),
        dim=int(dim),
    )
    return out


def write_meta(folder: Path, meta: dict) -> None:
    """Write ``meta.json`` (UTF-8, indented)."""
    with open(Path(folder) / META, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def read_meta(folder: Path) -> dict:
    """The parsed ``meta.json`` of a model folder."""
    path = Path(folder) / META
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise ModelError(f"{path}: missing: the model folder is damaged; train or import it again") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc}): the model folder is damaged") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: not a JSON object: the model folder is damaged")
    return meta


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _need(ok: bool, path: Path, key: str, value, what: str) -> None:
    if not ok:
        raise ModelError(
            f"{Path(path) / META}: {key!r} is {value!r}, not {what}: the model folder is damaged;"
            " train or import it again"
        )


# The one schema of meta.json, as checked when a model is opened: key -> (test, what it must be).
# Keys not listed (training parameters, corpus summary, extras of newer versions) are free.
_COUNT = (lambda v: _is_int(v) and v >= 0, "a count (an integer >= 0)")
_SCHEMA = {
    "format_version": (lambda v: _is_int(v) and v >= 1, "a format version (an integer >= 1)"),
    "algorithm": (lambda v: isinstance(v, str), "a string"),
    "dim": (lambda v: _is_int(v) and v >= 1, "a dimension (an integer >= 1)"),
    "vocab_size": _COUNT,
    "tokenizer": (lambda v: isinstance(v, dict), "an object"),
    "fasttext": (lambda v: isinstance(v, dict), "an object"),
    "phrases": (lambda v: isinstance(v, dict) and _is_int(v.get("passes")) and v["passes"] >= 1,
                "an object with the number of passes"),
}
_TOKENIZER = {
    "mode": (lambda v: v in TOKENIZER_MODES, "one of " + ", ".join(repr(m) for m in TOKENIZER_MODES)),
    "pos_filter": (lambda v: v in POS_FILTERS, "one of " + ", ".join(repr(m) for m in POS_FILTERS)),
    "pos_tags": (lambda v: isinstance(v, bool), "true or false"),
    "keep_jamo": (lambda v: isinstance(v, bool), "true or false"),
    "lowercase": (lambda v: v is None or isinstance(v, bool), "true, false or null"),
    "min_token_length": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
}
_SUBWORDS = {
    "minn": _COUNT,
    "maxn": _COUNT,
    "buckets": _COUNT,
}


def validate_meta(meta: dict, folder: Path) -> dict:
    """Check ``meta`` (a model's ``meta.json``) against the one schema; return it unchanged.

    A key of the wrong type, a tokenizer setting that cannot be, a FastText section without its
    ``minn``/``maxn``/``buckets`` or a folder from a newer emb is a ``ModelError`` naming the key.
    """
    for key, (test, what) in _SCHEMA.items():
        if key in meta:
            _need(test(meta[key]), folder, key, meta[key], what)
    if meta.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelError(
            f"{Path(folder) / META}: format version {meta['format_version']}: the model was written by a newer emb;"
            " upgrade emb (pip install -U embcli)"
        )
    for key, (test, what) in _TOKENIZER.items():
        tok = meta.get("tokenizer") or {}
        if key in tok:
            _need(test(tok[key]), folder, f"tokenizer.{key}", tok[key], what)
    if "fasttext" in meta:
        sub = meta["fasttext"]
        for key, (test, what) in _SUBWORDS.items():
            _need(test(sub.get(key)), folder, f"fasttext.{key}", sub.get(key), what)
        if sub["maxn"] and not 1 <= sub["minn"] <= sub["maxn"]:
            _need(False, folder, "fasttext.minn", sub["minn"], f"between 1 and maxn ({sub['maxn']})")
    return meta


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is a folder with a ``meta.json`` (not whether the rest is sound)."""
    return (Path(path) / META).is_file()
