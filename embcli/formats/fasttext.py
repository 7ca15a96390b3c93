"""Facebook fastText ``.bin`` models, read into the store with their n-gram buckets (read only).

The layout (fastText 0.9, file version 12), all little-endian: magic ``793712314`` and version
(int32); the arguments (12 int32 and a float64 ``t``); the dictionary (int32 size, nwords, nlabels;
int64 ntokens, pruneidx_size; per entry a NUL-terminated word, int64 count, int8 type; then
pruneidx_size int32 pairs); a bool ``quant``; the input matrix (int64 rows, cols; float32 values):
nwords word rows, then ``bucket`` n-gram rows; then a bool ``qout`` and the output matrix, which is
not needed here but must be there (a file cut inside it is refused, not taken as whole).

A word's vector is the mean of its own row and the rows of its n-gram buckets, the way gensim's
``load_facebook_vectors`` composes it, so out-of-vocabulary words and known words get the vectors
gensim gives them. Sizes claimed by the header are checked against the file's size before
anything is allocated; nothing is unpickled.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from embcli.errors import FormatError
from embcli.folder import FolderWriter, ImportSummary

MAGIC = 793712314
VERSION = 12
_ARGS = struct.Struct("<12id")
_LOSS = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
_ARCH = {1: "cbow", 2: "skipgram", 3: "supervised"}
MAX_DIM = 1 << 16
MAX_NGRAM = 100  # the longest character n-gram length a model may claim (fastText's default is 6)
SKIP = 1 << 22  # bytes read at a time when passing over parts that are not kept
MAX_WORD_BYTES = 1 << 20  # a dictionary word longer than this is damage, not a word


class _Reader:
    """Exact reads from a stream, with the offset for error messages."""

    def __init__(self, stream: BinaryIO, source: str):
        self.stream = stream
        self.source = source
        self.offset = 0

    def read(self, n: int, what: str) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise FormatError(
                f"{self.source}: the file ends at byte {self.offset + len(data)} inside {what}:"
                " it is truncated or not a fastText .bin model"
            )
        self.offset += n
        return data

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), what))

    def skip(self, n: int, what: str) -> None:
        """Read past ``n`` bytes a few MB at a time (a lying size never becomes one allocation)."""
        while n > 0:
            step = min(n, SKIP)
            self.read(step, what)
            n -= step


def _read_dictionary(r: _Reader, size: int) -> tuple[list[bytes], list[int], list[int]]:
    words: list[bytes] = []
    counts: list[int] = []
    types: list[int] = []
    buf = b""
    pos = 0
    entry = struct.Struct("<qb")
    while len(words) < size:
        end = buf.find(b"\0", pos)
        if end < 0 and len(buf) - pos > MAX_WORD_BYTES:
            raise FormatError(
                f"{r.source}: byte {r.offset:,}: dictionary entry {len(words) + 1} of {size} has no end within"
                f" {MAX_WORD_BYTES:,} bytes: the file is damaged or not a fastText model"
            )
        if end < 0 or end + 1 + entry.size > len(buf):
            more = r.stream.read(1 << 20)
            if not more:
                raise FormatError(
                    f"{r.source}: the file ends at byte {r.offset + len(buf)} inside dictionary entry"
                    f" {len(words) + 1} of {size}: it is truncated"
                )
            r.offset += pos
            buf = buf[pos:] + more
            pos = 0
            continue
        count, kind = entry.unpack_from(buf, end + 1)
        words.append(buf[pos:end])
        counts.append(count)
        types.append(kind)
        pos = end + 1 + entry.size
    # Hand back the bytes read past the dictionary.
    r.offset += pos
    r.stream = _Prefixed(buf[pos:], r.stream)
    return words, counts, types


class _Prefixed:
    """A stream that first returns ``head``, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head = head
        self.stream = stream

    def read(self, n: int) -> bytes:
        if self.head:
            out, self.head = self.head[:n], self.head[n:]
            if len(out) < n:
                out += self.stream.read(n - len(out))
            return out
        return self.stream.read(n)


def _check_not_quantized(r: _Reader, what: str) -> None:
    """Read a quantization flag: 0 goes on, 1 is a quantized model, anything else is damage."""
    at = r.offset
    (flag,) = r.unpack("<B", what)
    if flag == 1:
        raise FormatError(f"{r.source}: a quantized model (.ftz) cannot be read: use the full .bin model")
    if flag:
        raise FormatError(f"{r.source}: byte {at:,}: {what} is {flag}, not 0 or 1: the file is damaged")


def _check_output_matrix(r: _Reader, new: bool, out_rows: int, dim: int, total: int | None) -> None:
    """Check that the output matrix the header promises is all there (it is read past, not kept)."""
    if new:
        _check_not_quantized(r, "the output quantization flag")
    rows, cols = r.unpack("<2q", "the output matrix header")
    if cols != dim or rows != out_rows:
        raise FormatError(
            f"{r.source}: the output matrix is {rows} x {cols} but the header implies {out_rows} x {dim}:"
            " the file is damaged or not a fastText model"
        )
    need = rows * cols * 4
    if total is None:
        r.skip(need, "the output matrix")
    elif total - r.offset < need:
        raise FormatError(
            f"{r.source}: the file ends at byte {total:,} inside the output matrix, which needs {need:,} bytes"
            f" from byte {r.offset:,}: it is truncated"
        )


def looks_like_fasttext(head: bytes) -> bool:
    """Whether ``head`` starts like a fastText model: the magic number, or a plausible old header."""
    if len(head) >= 4 and struct.unpack_from("<i", head)[0] == MAGIC:
        return True
    if len(head) < _ARGS.size:
        return False
    dim, ws, epoch, _mc, _neg, _wn, loss, arch, _bucket, minn, maxn, _lr, t = _ARGS.unpack_from(head)
    return (
        0 < dim <= MAX_DIM and 0 < ws < 10_000 and 0 < epoch < 100_000 and loss in _LOSS and arch in _ARCH
        and 0 <= minn <= maxn < 100 and 0 <= t <= 1
    )


def read_fasttext_bin(src: BinaryIO, folder: Path, source: str, limit=None, lossy=False, total=None,
                      progress=None, nonfinite="error") -> ImportSummary:
    """Read a fastText ``.bin`` model into ``folder``: word vectors, counts and ``ngrams.npy``.

    Both layouts are read: the current one (magic number, version 12) and the older one without
    magic number, pruned index and quantization flag (gensim's ``lee_fasttext.bin`` is one).
    """
    r = _Reader(src, source)
    magic, version = r.unpack("<2i", "the header")
    new = magic == MAGIC
    if new:
        if version > VERSION:
            raise FormatError(f"{source}: fastText file version {version} is newer than {VERSION}, the one emb reads")
        fields = _ARGS.unpack(r.read(_ARGS.size, "the arguments"))
    else:
        fields = (magic, version) + struct.unpack("<10id", r.read(_ARGS.size - 8, "the arguments"))
        if not looks_like_fasttext(struct.pack("<12id", *fields)):
            raise FormatError(f"{source}: not a fastText .bin model (no magic number, implausible arguments)")
    dim, ws, epoch, min_count, neg, _word_ngrams, loss, arch, bucket, minn, maxn, _lr_rate, t = fields
    size, nwords, nlabels = r.unpack("<3i", "the dictionary header")
    (ntokens,) = r.unpack("<q", "the dictionary header")
    # fastText writes -1 for "not pruned".
    prune = max(r.unpack("<q", "the dictionary header")[0], 0) if new else 0
    if not (0 < dim <= MAX_DIM) or size < 0 or not (0 <= nwords <= size) or bucket < 0 or nlabels < 0:
        raise FormatError(
            f"{source}: implausible header (dim {dim}, {size} entries, {nwords} words, {bucket} buckets):"
            " the file is damaged or not a fastText model"
        )
    if bucket > 0 and not (1 <= minn <= maxn <= MAX_NGRAM):
        raise FormatError(
            f"{source}: implausible n-gram lengths minn {minn}, maxn {maxn}: a fastText model's lie within"
            f" 1..{MAX_NGRAM} (usually 3..6): the file is damaged or not a fastText model"
        )
    out_rows = nlabels if arch == 3 else nwords
    # Lower bounds of what the rest of the file must hold: the dictionary (a NUL, int64, int8 per
    # entry), the pruned index, the input matrix and the output matrix with their headers.
    need = size * 10 + prune * 8 + (nwords + bucket) * dim * 4 + out_rows * dim * 4 + 2 * (16 + new)
    if total is not None and r.offset + need > total:
        raise FormatError(
            f"{source}: the header claims {nwords:,} words and {bucket:,} buckets of dimension {dim}"
            f"{f' and a pruned index of {prune:,} entries' if prune else ''} ({need:,} bytes) but the file"
            f" holds only {total - r.offset:,} more bytes: it is truncated or damaged"
        )
    words, counts, types = _read_dictionary(r, size)
    r.skip(prune * 8, "the pruned index")
    if new:
        _check_not_quantized(r, "the quantization flag")
    rows, cols = r.unpack("<2q", "the input matrix header")
    if cols != dim or rows != nwords + bucket:
        raise FormatError(
            f"{source}: the input matrix is {rows} x {cols} but the header implies {nwords + bucket} x {dim}"
        )
    word_ids = [i for i, k in enumerate(types) if k == 0]
    if len(word_ids) != nwords:
        raise FormatError(f"{source}: the dictionary holds {len(word_ids)} words but its header says {nwords}")
    names = [words[i] for i in word_ids]
    freq = np.asarray([counts[i] for i in word_ids], dtype=np.int64)

    sink = FolderWriter(folder, dim, source, "fasttext-bin", limit=limit, lossy=lossy, with_counts=True,
                        nonfinite=nonfinite)
    try:
        block_rows = max(1, (1 << 24) // (4 * dim))
        for start in range(0, nwords, block_rows):
            stop = min(start + block_rows, nwords)
            data = r.read((stop - start) * dim * 4, f"word row {start + 1}")
            if sink.full:
                continue
            block = np.frombuffer(data, dtype="<f4").reshape(stop - start, dim)
            sink.add(names[start:stop], block, freq[start:stop], where=lambda i, s=start: f"word {s + i + 1}")
            if progress:
                progress(r.offset, total, sink.summary.rows)
        for start in range(0, bucket, block_rows):
            stop = min(start + block_rows, bucket)
            data = r.read((stop - start) * dim * 4, f"n-gram row {start + 1}")
            sink.add_ngrams(np.frombuffer(data, dtype="<f4").reshape(stop - start, dim), start)
            if progress:
                progress(r.offset, total, sink.summary.rows)
        _check_output_matrix(r, new, out_rows, dim, total)
        meta = {
            "algorithm": "fasttext",
            "params": {
                "dim": dim, "window": ws, "epochs": epoch, "min_count": min_count, "negative": neg,
                "loss": _LOSS.get(loss, str(loss)), "arch": _ARCH.get(arch, str(arch)), "sample": t,
            },
            # eos_own_row: ``</s>`` holds its own row, not composed (folders written before: composed).
            "fasttext": {"minn": minn, "maxn": maxn, "buckets": bucket, "eos_own_row": True},
            "corpus": {"tokens": ntokens},
        }
        if bucket == 0:
            del meta["fasttext"]
        # A word's vector is the mean of its own row and its n-gram rows, as gensim composes it; ``</s>``
        # keeps its own row, as fastText's get_word_vector gives it (gensim averages it too).
        return sink.finish(meta, compose_subwords=bucket > 0)
    finally:
        sink.abort()

