"""The corpus inside Spark: raw lines of bytes, decoded and tokenized by emb's own code on the executors.

Spark reads the files (local paths, globs, ``hdfs://``, ``s3a://``): plain text and the compressions
Hadoop splits or streams (``.gz``, ``.bz2``) through ``spark.read.text`` split at ``\\n`` only and
kept as bytes; ``.xz``, ``.lzma`` and ``.zst`` files whole, through emb's own decompressor, one task
a file. Each line then goes through ``embcli.corpus.decode_piece`` (U+FFFD for invalid bytes, NULs as
spaces, ``\\r\\n`` cut; lines over 1 MiB in the pieces of ``embcli.corpus.line_pieces``) and
``embcli.tokenize.make_tokenizer`` with the run's settings, exactly as the local engine does, so both
see the same tokens.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from itertools import groupby

from embcli.corpus import CorpusStats, decode_piece, line_pieces
from embcli.errors import CorpusError
from embcli.tokenize import TokenizerSettings, chunks, make_tokenizer

# Read whole by emb's decompressor (Hadoop has no codec for them, or only a native one).
WHOLE_SUFFIXES = (".xz", ".lzma", ".zst", ".zstd")


@dataclass
class Stats:
    """Spark accumulators of a pass over the corpus."""

    lines: object
    bytes: object
    replaced: object
    tokens: object

    @classmethod
    def new(cls, sc) -> "Stats":
        return cls(sc.accumulator(0), sc.accumulator(0), sc.accumulator(0), sc.accumulator(0))

    def as_corpus_stats(self, inputs: list[str], files: int) -> CorpusStats:
        return CorpusStats(
            inputs=list(inputs), files=files, lines=self.lines.value, bytes=self.bytes.value,
            replaced_bytes=self.replaced.value, tokens=self.tokens.value,
        )


def _whole_file_lines(item):
    """Lines of bytes of one whole (compressed) file read by ``binaryFiles``; a piece of a line longer
    than 1 MB that the next piece continues comes as a 1-tuple, so that the line counts once."""
    from embcli.corpus import _pieces
    from embcli.decompress import decompressed, detect_compression

    name, data = item
    raw = io.BufferedReader(io.BytesIO(bytes(data)))
    stream = decompressed(raw, detect_compression(raw.peek(8)[:8]), name, CorpusError)
    held = None
    for piece in _pieces(stream):
        if held is not None:
            yield held if held.endswith(b"\n") else (held,)
        held = piece
    if held is not None:
        yield held


def _text_rows(df):
    """The lines of ``spark.read.text`` as bytes."""
    return df.selectExpr("CAST(value AS BINARY) AS b").rdd.map(lambda row: bytes(row[0]))


def raw_lines(spark, inputs: list[str], partitions: int | None = None):
    """An RDD of the corpus' lines as bytes, in input order; and the files Spark found."""
    sc = spark.sparkContext
    rdds = []
    files: list[str] = []
    for path in inputs:
        if path.lower().endswith(WHOLE_SUFFIXES):
            rdds.append(sc.binaryFiles(path).flatMap(_whole_file_lines))
            files.append(path)
            continue
        df = spark.read.text(path, lineSep="\n")
        found = df.inputFiles()
        files.extend(found)
        if not any(f.lower().endswith(WHOLE_SUFFIXES) for f in found):
            rdds.append(_text_rows(df))
            continue
        # A folder or glob holding .xz/.zst files: Spark's text reader would take their compressed
        # bytes for text. Its files are read in name order, each run of one kind by its reader.
        for whole, run in groupby(sorted(found), key=lambda f: f.lower().endswith(WHOLE_SUFFIXES)):
            run = list(run)
            if whole:
                rdds.extend(sc.binaryFiles(f).flatMap(_whole_file_lines) for f in run)
            else:
                rdds.append(_text_rows(spark.read.text(run, lineSep="\n")))
    rdd = rdds[0] if len(rdds) == 1 else sc.union(rdds)
    if partitions is not None:
        rdd = rdd.repartition(partitions) if rdd.getNumPartitions() < partitions else rdd.coalesce(partitions)
    return rdd, files


def _tokenizer(settings: TokenizerSettings, stats: Stats, split_long: bool):
    """The function a partition of raw lines goes through: lists of tokens (sentences), counted."""

    def run(lines):
        tokenize = make_tokenizer(settings)
        n_lines = n_bytes = n_replaced = n_tokens = 0
        for line in lines:
            continued = isinstance(line, tuple)  # a piece of a longer line (``_whole_file_lines``)
            if continued:
                line = line[0]
            n_bytes += len(line) + 1
            n_lines += not continued
            for piece in line_pieces(line):
                text, replaced = decode_piece(piece)
                n_replaced += replaced
                toks = tokenize(text)
                n_tokens += len(toks)
                if not split_long:
                    yield toks
                elif toks:
                    yield from chunks(toks)
        stats.lines.add(n_lines)
        stats.bytes.add(n_bytes)
        stats.replaced.add(n_replaced)
        stats.tokens.add(n_tokens)

    return run


def tokenized(spark, inputs: list[str], settings: TokenizerSettings, partitions: int | None = None,
              sentences: bool = True):
    """(RDD of token lists, Stats, files). ``sentences=True``: only lines with tokens, split into
    sentences of at most 10,000 tokens as the local engine trains on; False: every line, as
    ``emb tokenize`` prints them."""
    settings.check_installed()
    rdd, files = raw_lines(spark, inputs, partitions)
    stats = Stats.new(spark.sparkContext)
    return rdd.mapPartitions(_tokenizer(settings, stats, sentences)), stats, files
