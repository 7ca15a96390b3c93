"""The Japanese corpus pass in compiled code: MeCab called on each line, its tokens counted and the
lines written without a Python object per line or per token.

``--tokenizer ja`` (every morpheme, no tags) runs MeCab through fugashi, which takes a Python
string and gives one back for each line: encoding, decoding and copying them, then splitting,
counting and joining the tokens, cost as much again as a tenth of MeCab's own time. Here the same
MeCab, with the same dictionary and options as fugashi's ``Tagger("-Owakati")``, is called from
numba (``wakati_kernels``) on each line of a block's UTF-8 bytes. Its C functions are found
through fugashi's own extension module, which loaded the library; where they cannot be (another
platform, another build), or the tagger made here does not answer as fugashi's does,
``open_mecab`` gives None and the pass goes through fugashi as before. The text and counts are
the same either way (tested).

A ``BlockCounter`` keeps one process's token table: each distinct token is decoded and cleaned in
Python once, when first seen; ``counts()`` gives the counts kept so far (and clears them), and
``spill()`` does so and empties the table when it has grown large.
"""

from __future__ import annotations

import ctypes
import threading
from collections import Counter
from typing import Callable

import numpy as np

from embcli.morph_text import PIECE_CHARS, pieces

# Pointers and sizes are passed to and from the kernels as signed integers (numba makes a float of
# an unsigned one met with a signed one).
_INT = ctypes.c_ssize_t
_PARSE = ctypes.CFUNCTYPE(_INT, _INT, _INT, _INT)  # mecab_sparse_tostr2(mecab, text, length)
_STRLEN = ctypes.CFUNCTYPE(_INT, _INT)
_MEMCPY = ctypes.CFUNCTYPE(_INT, _INT, _INT, _INT)


class Mecab:
    """A MeCab tagger made with fugashi's library, and the C functions the kernels call."""

    def __init__(self, functions: tuple, tagger: int):
        self.functions = functions  # (parse, strlen, memcpy)
        self.tagger = tagger

    def parse(self, text: str) -> str:
        """MeCab's output for one text (from Python: to check it against fugashi's)."""
        data = text.encode()
        out = self.functions[0](self.tagger, ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value, len(data))
        if not out:
            raise RuntimeError("MeCab gave no output")
        return ctypes.string_at(out).decode()


def open_mecab(args: list[str]) -> Mecab | None:
    """A tagger of fugashi's MeCab library made with ``args`` (as fugashi's ``GenericTagger`` passes
    them, after its own ``-C``), or None when the library's functions cannot be found."""
    try:
        from fugashi import fugashi as extension  # its library holds MeCab's functions

        library = ctypes.CDLL(extension.__file__)  # (already loaded: the same handle; lookups reach MeCab)
        libc = ctypes.CDLL(None)
        found = ((_PARSE, library.mecab_sparse_tostr2), (_STRLEN, libc.strlen), (_MEMCPY, libc.memcpy))
        functions = tuple(kind(ctypes.cast(function, ctypes.c_void_p).value) for kind, function in found)
        new = library.mecab_new
    except (ImportError, OSError, AttributeError, TypeError):
        return None
    new.restype = ctypes.c_void_p
    new.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
    argv = [b"emb", b"-C", *(arg.encode() for arg in args)]
    tagger = new(len(argv), (ctypes.c_char_p * len(argv))(*argv))
    if not tagger:
        return None
    return Mecab(functions, tagger)


class BlockCounter:
    """The corpus pass of one process: ``block(lines)`` gives the text to write and counts its tokens.

    ``prepare`` turns a block's lines into the texts MeCab gets (``morph_text.prepare_lines``);
    ``clean(token)`` gives the token as the corpus keeps it, or "" to drop it. The table holds at
    most ``SPILL`` distinct tokens before ``spill`` hands its counts over and starts again: its
    memory, about 50 bytes a token, stays bounded, and its lookups stay in the cache. One thread at
    a time uses a counter (a lock).
    """

    SPILL = 1 << 18

    def __init__(self, mecab: Mecab, clean: Callable[[str], str], prepare: Callable[[list[str]], list[str]],
                 slots: int = 1 << 16, store: int = 1 << 20):
        self.mecab, self.clean, self.prepare = mecab, clean, prepare
        self._sizes = (slots, store)  # of the table (a power of two) and the store, grown as needed
        self.kernels = None  # imported, and the arrays made, at the first block (numba takes a while)
        self._lock = threading.RLock()

    def _start(self) -> None:
        """The table and its arrays, made anew, empty (at the first block, and by ``spill``)."""
        from embcli import wakati_kernels as kernels

        slots, store = self._sizes
        self.state = np.zeros(kernels.STATE_SIZE, np.int64)
        self.table = np.full(slots, -1, np.int32)
        self.starts = None
        self._ids_size(int(slots * kernels.MAX_LOAD))
        self.store = np.empty(store, np.uint8)
        self.scratch = np.empty(1 << 16, np.uint8)
        self.ids = np.empty(0, np.int32)
        self.out = np.empty(0, np.uint8)
        self.cleaned = 0  # the tokens cleaned (ids below): the others are cleaned before a block is written
        self.kernels = kernels

    def with_clean(self, clean: Callable[[str], str]) -> "BlockCounter":
        """A new counter cleaning tokens with ``clean``."""
        return BlockCounter(self.mecab, clean, self.prepare, *self._sizes)

    def _ids_size(self, size: int) -> None:
        """Room for ``size`` token ids in the per-token arrays (kept as they are)."""
        old = self.starts
        arrays = {"starts": np.int64, "lengths": np.int32, "kept": np.bool_, "kept_starts": np.int64,
                  "kept_lengths": np.int32, "tally": np.int64}
        for name, dtype in arrays.items():
            grown = np.zeros(size, dtype)
            if old is not None:
                grown[: len(old)] = getattr(self, name)
            setattr(self, name, grown)

    def block(self, lines: list[str], max_tokens: int) -> tuple[bytes, int, int] | None:
        """(UTF-8 text, tokens, lines written) of ``lines``: each line's kept tokens, space-separated,
        in lines of at most ``max_tokens``; None when a line holds a line break (not from a corpus
        reader: the caller tokenizes such a block as before)."""
        with self._lock:
            if self.kernels is None:
                self._start()
            return self._block(lines, max_tokens)

    def _block(self, lines: list[str], max_tokens: int) -> tuple[bytes, int, int] | None:
        kernels = self.kernels
        texts = self.prepare(lines)
        if texts and max(map(len, texts)) > PIECE_CHARS:
            cut = [pieces(text) for text in texts]
            ends = np.array([i == len(parts) - 1 for parts in cut for i in range(len(parts))], np.bool_)
            texts = [piece for parts in cut for piece in parts]
        else:
            ends = np.ones(len(texts), np.bool_)
        data = ("\n".join(texts) + "\n").encode()
        if len(data) >= 1 << 31:
            return None
        raw = np.frombuffer(data, np.uint8)
        breaks = np.flatnonzero(raw == 10)
        if breaks.shape[0] != len(texts):
            return None
        bounds = np.zeros(len(texts) + 1, np.int64)
        bounds[1:] = breaks + 1
        self._room(len(data), int(np.diff(bounds).max(initial=0)))
        self.state[kernels.PIECE] = self.state[kernels.WRITTEN] = 0
        parse, strlen, memcpy = self.mecab.functions
        while True:
            k = kernels.analyse(parse, strlen, memcpy, self.mecab.tagger, raw, bounds, ends, kernels.KINDS,
                                self.scratch, self.ids, self.table, self.starts, self.lengths, self.store, self.state)
            if k == kernels.FULL:
                self._grow()
                continue
            if k == kernels.FAILED:
                piece = texts[int(self.state[kernels.PIECE])]
                raise RuntimeError(f"MeCab gave no output for {piece[:60]!r}")
            break
        self._clean_new()
        w, tokens, written = kernels.write(self.ids, k, self.kept, self.kept_starts, self.kept_lengths, self.store,
                                           self.tally, self.out, max_tokens)
        return self.out[:w].tobytes(), tokens, written

    def _room(self, size: int, longest: int) -> None:
        """Room for a block of ``size`` bytes whose longest piece has ``longest``."""
        if self.ids.shape[0] < 2 * size:  # tokens <= bytes, and one line end a line
            self.ids = np.empty(2 * size, np.int32)
        if self.out.shape[0] < 2 * size + 16:  # each token (a byte or more) and a space or line break
            self.out = np.empty(4 * size + 16, np.uint8)
        if self.scratch.shape[0] < 2 * longest + 16:  # MeCab's output: each token and a space, a line break
            self.scratch = np.empty(4 * longest + 16, np.uint8)
        self._store_room(2 * size)  # new tokens' bytes and their cleaned forms

    def _store_room(self, size: int) -> None:
        need = int(self.state[self.kernels.STORED]) + size
        if self.store.shape[0] < need:
            grown = np.empty(2 * need, np.uint8)
            grown[: self.store.shape[0]] = self.store
            self.store = grown

    def _grow(self) -> None:
        """Twice the table (and the per-token arrays) when it is full; else twice the scratch buffer
        and the store (``_room`` gives them room for the block, so this is only a safeguard)."""
        kernels = self.kernels
        distinct = int(self.state[kernels.DISTINCT])
        if distinct >= int(self.table.shape[0] * kernels.MAX_LOAD):
            self.table = np.full(2 * self.table.shape[0], -1, np.int32)
            kernels.rehash(self.table, self.starts, self.lengths, self.store, distinct)
            self._ids_size(int(self.table.shape[0] * kernels.MAX_LOAD))
        else:
            self.scratch = np.empty(2 * self.scratch.shape[0], np.uint8)
            self._store_room(self.store.shape[0])

    def _clean_new(self) -> None:
        """Decode and clean the tokens not cleaned yet (first seen in this block, or in one that failed).
        Their flags are set last: if this is interrupted, it is done again."""
        first, distinct = self.cleaned, int(self.state[self.kernels.DISTINCT])
        if first == distinct:
            return
        starts, lengths = self.starts[first:distinct], self.lengths[first:distinct]
        low = int(starts.min())
        raw = self.store[low : int((starts + lengths).max())].tobytes()
        tokens = [raw[at : at + n].decode() for at, n in zip((starts - low).tolist(), lengths.tolist())]
        kept = list(map(self.clean, tokens))
        self.kept_starts[first:distinct] = starts
        self.kept_lengths[first:distinct] = lengths
        for i, (form, token) in enumerate(zip(kept, tokens)):
            if form and form != token:  # a part of the token (an emoji cut off): its bytes after the others
                encoded = np.frombuffer(form.encode(), np.uint8)
                self._store_room(len(encoded))
                used = int(self.state[self.kernels.STORED])
                self.store[used : used + len(encoded)] = encoded
                self.kept_starts[first + i], self.kept_lengths[first + i] = used, len(encoded)
                self.state[self.kernels.STORED] = used + len(encoded)
        self.kept[first:distinct] = np.fromiter(map(bool, kept), np.bool_, distinct - first)
        self.cleaned = distinct

    def counts(self) -> Counter:
        """The kept tokens counted so far, in the order they were first seen; the counts start again."""
        with self._lock:
            if self.kernels is None:
                return Counter()
            distinct = int(self.state[self.kernels.DISTINCT])
            store, out = self.store, Counter()
            for first in range(0, distinct, 1 << 16):  # (a piece at a time: no list of them all)
                seen = first + np.flatnonzero(self.tally[first : min(first + (1 << 16), distinct)])
                starts, lengths = self.kept_starts[seen].tolist(), self.kept_lengths[seen].tolist()
                for at, n, count in zip(starts, lengths, self.tally[seen].tolist()):
                    out[store[at : at + n].tobytes().decode()] += count
            self.tally[:distinct] = 0
            return out

    def spill(self) -> Counter | None:
        """When the table holds ``SPILL`` tokens or more: its counts (``counts``), and the table starts
        again empty; else None."""
        with self._lock:
            if self.kernels is None or int(self.state[self.kernels.DISTINCT]) < self.SPILL:
                return None
            counts = self.counts()
            self._start()
            return counts
