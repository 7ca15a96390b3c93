"""GloVe text files: ``word v1 ... vD`` lines without a header.

The dimension comes from the first line; a word holding spaces (GloVe's Common Crawl files have a
few) is recognised because only the last D fields of a line are numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from embcli.formats.word2vec import stream_text, write_text


def read_glove(src: BinaryIO, folder: Path, source: str, **opts):
    """Read GloVe text into the model folder ``folder``; see ``embcli.formats.convert.read_into``."""
    return stream_text(src, folder, source, "glove", header=False, **opts)


def write_glove(model, dst: BinaryIO, limit=None, normalize=False, progress=None) -> int:
    """Write GloVe text: a word and its values a line, no header."""
    return write_text(model, dst, False, limit, normalize, progress)
