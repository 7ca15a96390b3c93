"""GloVe text files: ``word v1 ... vD`` lines without a header.

The dimension comes from the first line; a word holding spaces (GloVe's Common Crawl files have a
few) is recognised because only the last D fields of a line are numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO


def read_glove(src: BinaryIO, folder: Path, source: str, **opts):
    """Read GloVe text into the model folder ``folder``; see ``embcli.formats.read_into``."""
    from embcli.formats import stream_text

    return stream_text(src, folder, source, "glove", header=False, **opts)


def write_glove(model, dst: BinaryIO, limit=None, normalize=False, progress=None) -> int:
    """Write GloVe text: a word and its values a line, no header."""
    from embcli.formats.word2vec import write_text

    return write_text(model, dst, False, limit, normalize, progress)
