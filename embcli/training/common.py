"""What every trainer shares: the result type and the helpers more than one trainer uses."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

# Share of the memory available now that the trainer's matrices may take.
MEMORY_SHARE = 0.9

# Text read at a time when a tokenized corpus is turned into word ids.
CHUNK_BYTES = 2 << 20


@dataclass
class Trained:
    """What every trainer hands back: words by count with their vectors and counts.

    ``ngrams`` is FastText's bucket matrix (None otherwise); ``meta`` holds the trainer's own entries
    for ``meta.json`` (GloVe's costs, FastText's n-gram settings), merged in by the training job;
    ``state`` what ``--continue`` needs (keys of ``embcli.folder.layout.STATE_FILES``), None if the
    trainer cannot continue.
    """

    words: list[str]
    vectors: np.ndarray
    counts: np.ndarray
    words_per_second: float
    ngrams: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    state: dict | None = None


def select_vocabulary(counts: Counter, min_count: int, max_vocab: int | None) -> tuple[list[str], np.ndarray]:
    """Words occurring at least ``min_count`` times, most frequent first (ties by word), at most ``max_vocab``."""
    kept = sorted(((c, w) for w, c in counts.items() if c >= min_count), key=lambda cw: (-cw[0], cw[1]))
    if max_vocab is not None:
        kept = kept[:max_vocab]
    return [w for _, w in kept], np.array([c for c, _ in kept], dtype=np.int64)


def id_chunks(corpus_path: Path, index: dict, oov: int) -> Iterator[np.ndarray]:
    """Arrays of word ids, a few MB of text at a time, with ``index["\\n"]`` at line ends and ids ``oov`` dropped."""
    get = index.__getitem__
    with open(corpus_path, encoding="utf-8", newline="\n") as fh:
        while True:
            lines = fh.readlines(CHUNK_BYTES)
            if not lines:
                return
            # One split over the whole chunk is much faster than a split a line; "\n" becomes a token.
            toks = "".join(lines).replace("\n", " \n ").split(" ")
            del lines
            ids = np.fromiter(map(get, toks), dtype=np.int32, count=len(toks))
            del toks
            yield ids[ids != oov]


def write_ids(corpus_path: Path, words: list[str], out_path: Path) -> int:
    """Write the tokenized corpus as int32 ids: word i of ``words`` is i, rare words are dropped and
    every line ends with the id len(words). Returns the number of ids written.

    Converted by compiled kernels (``id_kernels``: a hash table of the words' UTF-8 bytes), a few MB
    of text at a time. The buffers and the table are handed back to the system afterwards, so that
    they do not stay in the heap beside the matrices allocated next (13 MB on the benchmark corpus).
    """
    n = _convert_to_ids(corpus_path, words, out_path)
    return_freed_memory()
    return n


def load_id_kernels() -> None:
    """Load ``write_ids``'s compiled kernels now (from numba's cache, or compiled), by converting no text."""
    from embcli.training import id_kernels

    empty = np.frombuffer(b"", dtype=np.uint8)  # read-only, as the text and the words are
    offsets = np.zeros(1, dtype=np.int64)
    table = id_kernels.build_table(empty, offsets)
    id_kernels.text_to_ids(empty, empty, offsets, table, 0, np.empty(1, dtype=np.int32))


def _convert_to_ids(corpus_path: Path, words: list[str], out_path: Path) -> int:
    from embcli.training import id_kernels

    encoded = [w.encode("utf-8") for w in words]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    del encoded
    table = id_kernels.build_table(blob, offsets)
    line_end = len(words)
    out_ids = np.empty(CHUNK_BYTES + (1 << 16), dtype=np.int32)
    n = 0
    rest = b""
    with open(corpus_path, "rb") as fh, open(out_path, "wb") as out:
        while True:
            data = fh.read(CHUNK_BYTES)
            if data:
                text = rest + data
                cut = text.rfind(b"\n") + 1  # whole lines only
                if cut == 0:  # a line longer than the chunk: read on
                    rest = text
                    continue
            elif rest:  # a last line with no newline still gets its line end
                text, cut = rest + b"\n", len(rest) + 1
            else:
                break
            rest = text[cut:]
            buf = np.frombuffer(text, dtype=np.uint8, count=cut)
            if out_ids.shape[0] < cut:
                out_ids = np.empty(cut, dtype=np.int32)
            k = id_kernels.text_to_ids(buf, blob, offsets, table, line_end, out_ids)
            out_ids[:k].tofile(out)
            n += k
    return n


def return_freed_memory() -> None:
    """Hand the heap memory freed so far back to the system (glibc's ``malloc_trim``; a no-op elsewhere).

    glibc keeps freed heap pages in the process for reuse; trimming after a large structure is freed
    lets the memory the training allocates next come from the system instead of being counted twice.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is not None:
        trim(0)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable), else the physical memory, else None;
    at most what the process's address-space limit (``ulimit -v``) leaves it."""
    have = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    have = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if have is None:
        try:
            have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (OSError, ValueError, AttributeError):
            pass
    left = _address_space_left()
    return left if have is None else have if left is None else min(have, left)


def _address_space_left() -> int | None:
    """Bytes the address-space limit (RLIMIT_AS) still allows this process, or None without a limit."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status", encoding="ascii") as fh:
            used = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        return max(0, limit - used)
    except (ImportError, OSError, ValueError, StopIteration):
        return None


def matrix_bytes(options, vocab: int) -> int:
    """Bytes of the matrices a trainer allocates for ``vocab`` words (input, output, n-grams, AdaGrad)."""
    dim = options.dim
    if options.algo == "glove":
        half = -(-(dim + 1) // 16) * 16
        return 2 * vocab * 2 * half * 4
    rows = vocab + (options.buckets if options.algo == "fasttext" else 0)
    return (rows + vocab) * dim * 4


def check_memory(options, vocab: int, available: int | None = None) -> None:
    """Refuse settings whose matrices cannot fit in memory, before anything is allocated."""
    from embcli.errors import TrainingError

    need = matrix_bytes(options, vocab)
    have = available_memory() if available is None else available
    if have is None or need <= MEMORY_SHARE * have:
        return
    fasttext = options.algo == "fasttext"
    knobs = "--dim, --buckets or --max-vocab" if fasttext else "--dim or --max-vocab"
    # Before the corpus is read the vocabulary is not known: the settings alone are too large then.
    what = f"the vocabulary ({vocab:,} words, dim {options.dim}" if vocab else f"the settings (dim {options.dim}"
    what += f", {options.buckets:,} buckets)" if fasttext else ")"
    raise TrainingError(
        f"training with {what} needs {_gb(need)} for its matrices but {_gb(have)} of memory is available:"
        f" lower {knobs}"
    )


def _gb(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.0f} MB"
