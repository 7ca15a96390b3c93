"""Which format a file is in: a folder, else an unambiguous suffix, else its first bytes."""

from __future__ import annotations

import os
from pathlib import Path

from embcli.errors import FormatError, UsageError
from embcli.formats import FORMATS, READABLE, get_format, strip_compression
from embcli.formats.fasttext import looks_like_fasttext
from embcli.formats.streams import read_head

_TEXT_BYTES = frozenset(b"0123456789+-.eEinfINFa \t\r\n")


def is_pickle(head: bytes) -> bool:
    """Whether ``head`` starts like a Python pickle (gensim's ``.model``/``.kv`` files are pickles)."""
    if len(head) < 3 or head[0] != 0x80:
        return False
    protocol, opcode = head[1], head[2]
    return protocol in (4, 5) and opcode == 0x95 or protocol in (2, 3) and opcode in b"}]()cq\x8c\x95"


def refuse_pickle(head: bytes, source: str) -> None:
    """Say that a pickled file (gensim's own save format) is not read, and how to convert it."""
    if is_pickle(head):
        raise FormatError(
            f"{source}: a Python pickle (gensim's own .model/.kv save format), which emb never loads:"
            " in gensim, write the vectors with model.wv.save_word2vec_format('vectors.bin', binary=True)"
            " (KeyedVectors.save_word2vec_format) and import that file"
        )


def _binary_kind(head: bytes) -> str | None:
    """The binary format that ``head`` starts like (a NumPy array as ``npy``), or None."""
    if looks_like_fasttext(head):
        return "fasttext-bin"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    return None


def _refuse_npy(source: str) -> None:
    raise FormatError(
        f"{source}: a NumPy array (.npy), which holds vectors but not their words: import a model folder"
        " (vocab.txt, one word a line, beside vectors.npy), or the words and vectors as word2vec text or Parquet"
    )


def refuse_other_format(head: bytes, fmt: str, source: str) -> None:
    """Refuse a file whose first bytes are another format's (a pickle, a fastText .bin, a Parquet or
    NumPy file) than ``fmt``, the one its suffix or --format names: a text reader would only quote
    binary bytes back."""
    refuse_pickle(head, source)
    kind = _binary_kind(head)
    if kind == "npy":
        _refuse_npy(source)
    if kind is not None and kind != fmt:
        raise FormatError(f"{source}: its first bytes are those of a {kind} file, not {fmt}: pass --format {kind}")


def _printable(row: bytes) -> bool:
    """Whether ``row`` is UTF-8 text of printable characters and tabs."""
    try:
        text = row.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r" for ch in text)


def sniff(head: bytes, source: str) -> str:
    """Name the format of a file from its first bytes (up to a few KB)."""
    refuse_pickle(head, source)
    if not head:
        raise FormatError(f"{source}: the file is empty: there are no vectors to read")
    kind = _binary_kind(head)
    if kind == "npy":
        _refuse_npy(source)
    if kind is not None:
        return kind
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        dim = int(parts[1])
        space = rest.find(b" ")
        if space < 0:
            return "word2vec"
        row, newline, _ = rest[space + 1 :].partition(b"\n")
        text_like = set(row) <= _TEXT_BYTES
        # A text row has D numbers (or runs past what was read); binary bytes hardly ever look like that.
        if text_like and (len(row.split()) == dim or not newline):
            return "word2vec"
        # Printable text all the same: a text file with a fault (a wrong count, a word for a number),
        # which the text reader names by line; D * 4 bytes of float32 are almost never printable.
        if newline and _printable(row):
            return "word2vec"
        return "word2vec-binary"
    if len(parts) >= 2:
        try:
            [float(p) for p in parts[1:]]
            return "glove"
        except ValueError:
            pass
    raise FormatError(
        f"{source}: cannot tell the format from its first bytes: pass --format ({', '.join(READABLE)})"
    )


def detect_format(path: str, head: bytes | None = None) -> str:
    """The format of an input: a folder, else the suffix when it is unambiguous, else sniffing."""
    if path != "-" and Path(path).is_dir():
        return "folder"
    bare, _ = strip_compression(path)
    by_suffix = [f.name for f in FORMATS.values() if Path(bare).suffix.lower() in f.suffixes]
    if len(by_suffix) == 1:
        return by_suffix[0]
    if head is None:
        head = read_head(path)
    found = sniff(head, path)
    if by_suffix and found not in by_suffix and not (found == "word2vec" and "fasttext-vec" in by_suffix):
        raise FormatError(f"{path}: the suffix says {' or '.join(by_suffix)} but the content looks like {found}: pass --format")
    return found


def output_format(path: str, fmt: str | None) -> str:
    """The format to write ``path`` in: ``fmt``, else the suffix, else word2vec text for stdout."""
    if fmt:
        get_format(fmt).write_fn()
        return fmt
    if path == "-":
        return "word2vec"
    bare, _ = strip_compression(path)
    suffix = Path(bare).suffix.lower()
    for f in FORMATS.values():
        if suffix in f.suffixes and f.writer:
            return f.name
    if not suffix or path.endswith(os.sep) or Path(path).is_dir():
        return "folder"
    raise UsageError(f"{path}: cannot tell the output format from the suffix {suffix!r}: pass --format/--to")
