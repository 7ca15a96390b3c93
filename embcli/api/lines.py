"""The API over lines of text: embed a stream of lines block by block, embed files into a vector
file (TSV, JSONL, .npy, Parquet: what ``emb embed`` writes), open a collection of documents once and
search it (``emb search``)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Sequence

import numpy as np

from embcli.api.paths import refuse_input_as_output
from embcli.errors import EmbError, OutputError, UsageError

EMPTY_POLICIES = ("zero", "drop")


@dataclass
class EmbeddedBlock:
    """A block of consecutive lines and their vectors.

    ``numbers`` are the lines' 1-based numbers in the whole stream, ``empty`` marks the lines
    without a known word (their vector is zero), ``component`` is the SIF principal component
    removed from the vectors (``None`` for the other poolings).
    """

    numbers: np.ndarray
    lines: list[str]
    vectors: np.ndarray
    empty: np.ndarray
    component: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class EmbedSummary:
    """What ``embed_file`` did: lines read, lines without a known word, rows written, where."""

    output: str
    format: str
    pooling: str
    lines: int
    empty: int
    written: int

    def to_dict(self) -> dict:
        """The fields as a dict (for JSON)."""
        return asdict(self)


def embed_blocks(folder, lines: Iterable[str], pooling: str = "mean", sif_sample: int = 100_000,
                 batch: int = 8192, reuse: bool = False) -> Iterator[EmbeddedBlock]:
    """The ``EmbeddedBlock`` s of a stream of lines (``Model.embed_lines``)."""
    from embcli.sentences import Embedder

    if isinstance(lines, str):
        raise UsageError("embed_lines takes an iterable of lines, not one string: wrap it in a list")
    if batch < 1:
        raise UsageError(f"batch must be at least 1 (got {batch})")
    embedder = Embedder(folder, pooling, sif_sample=sif_sample)  # bad settings raise now, not at the first block

    def ends_dropped(items):
        # A file object gives its lines with their ends: one line each, without them.
        for line in items:
            yield line.rstrip("\r\n") if isinstance(line, str) else line

    def blocks() -> Iterator[EmbeddedBlock]:
        for block, pooled in embedder.stream(ends_dropped(lines), batch=batch, reuse=reuse):
            first = pooled.first_line
            yield EmbeddedBlock(np.arange(first, first + len(block), dtype=np.int64), block, pooled.vectors,
                                pooled.empty, embedder.component)

    return blocks()


def _text_lines(inputs: Sequence[str | Path]):
    from embcli.corpus import Corpus
    from embcli.sentences import text_lines

    return text_lines(Corpus([str(i) for i in inputs]))


# What ``-o FILE`` names when no format is given.
_SUFFIX_FORMATS = {".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".npy": "npy", ".parquet": "parquet"}


def _embed_format(path: Path | None, format: str | None) -> str:
    """The format to write: ``format``, else the output's suffix, else TSV; a format that contradicts
    a binary suffix (``-o v.parquet -f tsv``) is refused, since search would misread the file."""
    by_suffix = _SUFFIX_FORMATS.get(path.suffix.lower()) if path is not None else None
    if format is None:
        return by_suffix or "tsv"
    if by_suffix in ("npy", "parquet") and format != by_suffix:
        raise UsageError(f"{path} is named .{by_suffix} but the format is {format}: drop --format or rename the file")
    return format


def embed_file(folder, inputs: str | Path | Sequence[str | Path], output: str | Path | BinaryIO,
               pooling: str = "mean", format: str | None = None, empty: str = "zero",
               sif_sample: int = 100_000, force: bool = False) -> EmbedSummary:
    """Embed the lines of text files (``-``: stdin) into one vector file (``Model.embed_file``)."""
    from embcli.vector_writers import FORMATS, VectorWriter

    path = None if hasattr(output, "write") or str(output) == "-" else Path(output)
    format = _embed_format(path, format)
    if format not in FORMATS:
        raise UsageError(f"unknown output format {format!r}: use one of {', '.join(FORMATS)}")
    if empty not in EMPTY_POLICIES:
        raise UsageError(f"unknown empty-line policy {empty!r}: use one of {', '.join(EMPTY_POLICIES)}")
    sources = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    if not sources:
        raise UsageError("no input to embed: give text files or - for stdin")
    if path is not None:
        refuse_input_as_output(path, [str(source) for source in sources], "the vectors")
    meta = {"model": folder.name, "model_path": os.path.realpath(folder.path), "dim": folder.dim, "pooling": pooling,
            "model_created": folder.meta.get("created")}
    counts = {"lines": 0, "empty": 0, "written": 0}

    # Settings the model cannot do raise here, before anything is written.
    # The text and .npy writers are done with a block when they return: its buffer can be reused.
    blocks = embed_blocks(folder, _text_lines(sources), pooling, sif_sample, reuse=format != "parquet")

    def run(stream: BinaryIO) -> None:
        writer = VectorWriter(format, stream, folder.dim, meta)
        for block in blocks:
            if block.component is not None:
                writer.set_meta(sif_component=[float(x) for x in block.component])
            counts["lines"] += len(block)
            missing = int(block.empty.sum())
            counts["empty"] += missing
            if empty == "drop" and missing:
                keep = np.flatnonzero(~block.empty)
                writer.write(block.numbers[keep], [block.lines[i] for i in keep.tolist()], block.vectors[keep])
                counts["written"] += len(keep)
            else:
                writer.write(block.numbers, block.lines, block.vectors)
                counts["written"] += len(block)
        writer.close()

    if hasattr(output, "write"):
        run(output)
        where = getattr(output, "name", "<stream>")
    else:
        where = str(output)
        from embcli.folder.output import write_file

        def run_into(path: str) -> None:
            with open(path, "wb") as stream:
                run(stream)

        try:
            # A new file, or one replaced atomically with ``force``; a FIFO, /dev/stdout or a device is
            # written through.
            write_file(Path(output), run_into, force=force)
        except EmbError:
            raise
        except OSError as exc:
            raise OutputError(f"{output}: cannot write ({exc.strerror}): check the free space and permissions") from None
    return EmbedSummary(str(where), format, pooling, counts["lines"], counts["empty"], counts["written"])


def open_docs(folder, source: str | Path | Sequence[str], pooling: str | None = None):
    """A collection to search (``Model.open_docs``): a Parquet from ``emb embed``, a text file, or lines."""
    from embcli.docsearch import docs_from_lines
    from embcli.docsearch import open_docs as _open

    if isinstance(source, (str, os.PathLike)):
        return _open(folder, str(source), pooling)
    return docs_from_lines(folder, list(source), pooling or "mean")
