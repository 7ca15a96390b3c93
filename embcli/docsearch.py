"""Search a collection of lines (documents, sentences, items) by the cosine to query lines.

The collection is either a text file, embedded when it is opened (one vector a line, with the
pooling asked for), or a Parquet written by ``emb embed -f parquet`` (columns ``line``, ``text``,
``vector``), whose vectors are used as they are: its pooling and SIF component (schema metadata
``emb``) embed the queries the same way.

Large collections (``prefilter.MIN_ROWS`` rows or more) from Parquet get a sidecar folder next to
the file, ``DOCS.parquet.emb-index/``: ``vectors.npy`` and ``norms.npy`` (a float32 copy that is
memory-mapped instead of decoding the Parquet on each search) and, once a batch of at least
``prefilter.MIN_QUERIES`` queries has been asked, ``search-index/`` (the int8 copy of the unit rows
that ``embcli.prefilter`` scans), with the line numbers and the texts (one UTF-8 file and its offsets)
so that only the hits' texts are read. Its cost is 4 x D + 4 bytes a document for the float copy, D
bytes for the int8 one, 16 bytes and the text's length for the rest (1.6 GB for a million
300-dimensional documents of 100 bytes); it is rebuilt when the
Parquet changes (size or modification time), may be deleted at any time, and is skipped (the work
done in memory) when the folder cannot be written. Text collections are searched in memory.

Answers are exact: the int8 scan only selects candidates, which are scored again in float32 (see
``embcli.prefilter``), so a large batch returns what ``embcli.topk.topk`` would, up to float32
rounding (two documents whose cosines differ in the last bits may come in the other order).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from embcli.corpus import Corpus
from embcli.errors import CorpusError, EmbError, FormatError, ModelError, UnknownWordError, UsageError
from embcli.folder import ModelFolder, atomic_dir, load_array, row_norms
from embcli.topk import topk
from embcli.sentences import POOLINGS, Embedder, text_lines
from embcli.vector_writers import META_KEY

SIDECAR_SUFFIX = ".emb-index"
_STAMP = "source.json"


@dataclass
class DocHit:
    """One answer: 1-based rank, the document's line number and text, and the cosine."""

    rank: int
    line: int
    score: float
    text: str
    row: int

    def to_dict(self) -> dict:
        """The fields as a dict (for JSON)."""
        return {"rank": self.rank, "line": self.line, "score": self.score, "text": self.text, "row": self.row}


@dataclass
class DocResult:
    """The answers to one query line, or the error that stopped it."""

    query: str
    hits: list[DocHit] = field(default_factory=list)
    error: EmbError | None = None


@dataclass
class Docs:
    """A collection ready to search: vectors, norms, line numbers and a way to get texts."""

    source: str
    vectors: np.ndarray
    norms: np.ndarray
    numbers: np.ndarray
    texts: Callable[[np.ndarray], list[str]] = field(repr=False)
    pooling: str = "mean"
    component: np.ndarray | None = None
    index_folder: Path | None = None
    empty: int = 0
    index: object = field(default=None, repr=False)  # the in-memory int8 index, once built
    embedder: Embedder | None = field(default=None, repr=False)  # embeds queries (made once)
    meta: dict = field(default_factory=dict)  # a Parquet's ``emb`` metadata (model, pooling, ...)

    def __len__(self) -> int:
        return len(self.vectors)


def is_parquet(path: str) -> bool:
    """Whether ``path`` is a Parquet file (its first bytes), whatever its name."""
    if path == "-":
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def open_docs(model: ModelFolder, source: str, pooling: str | None = None) -> Docs:
    """The collection at ``source`` (a Parquet from ``emb embed``, or text files / ``-``)."""
    if pooling is not None and pooling not in POOLINGS:
        raise UsageError(f"unknown pooling {pooling!r}: use one of {', '.join(POOLINGS)}")
    if source != "-" and not os.path.exists(source) and not glob.has_magic(source):
        raise CorpusError(f"{source}: no such file: check the path")
    if is_parquet(source):
        return _parquet_docs(model, source, pooling)
    if source != "-" and Path(source).suffix.lower() in (".parquet", ".npy"):
        raise UsageError(f"{source}: named {Path(source).suffix} but not a Parquet file: give the Parquet"
                         " that emb embed -f parquet writes, or a text file of one document a line")
    return embed_docs(model, [source], pooling or "mean")


def embed_docs(model: ModelFolder, inputs: Sequence[str], pooling: str = "mean") -> Docs:
    """Embed text files (one document a line) into an in-memory collection."""
    corpus = Corpus(list(inputs))
    lines = list(text_lines(corpus))
    if not lines:
        raise EmbError(f"{', '.join(inputs)}: no lines to search: pass a file with one document a line")
    return docs_from_lines(model, lines, pooling, source=", ".join(inputs))


def docs_from_lines(model: ModelFolder, lines: Sequence[str], pooling: str = "mean", source: str = "lines") -> Docs:
    """An in-memory collection of the given documents (one line of text each), numbered from 1."""
    lines = list(lines)
    if not lines:
        raise UsageError("no documents to search: give at least one line")
    embedder = Embedder(model, pooling)
    pooled = embedder.embed(lines)
    vectors = pooled.vectors
    return Docs(
        source=source,
        vectors=vectors,
        norms=row_norms(vectors),
        numbers=np.arange(1, len(lines) + 1, dtype=np.int64),
        texts=lambda rows: [lines[r] for r in rows.tolist()],
        pooling=pooling,
        component=embedder.component,
        empty=int(pooled.empty.sum()),
        embedder=embedder,
    )


def _parquet_docs(model: ModelFolder, path: str, pooling: str | None) -> Docs:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"{path}: unreadable Parquet ({exc}): write it with emb embed -f parquet") from None
    schema = pf.schema_arrow
    names = schema.names
    if "word" in names and "text" not in names:
        raise FormatError(
            f"{path}: a model's vectors (columns: {', '.join(names)}), not documents: search the documents'"
            " text file, or the Parquet that emb embed -f parquet writes of it"
        )
    if "vector" not in names:
        raise FormatError(
            f"{path}: no 'vector' column (columns: {', '.join(names)}): write the collection with"
            " emb embed -f parquet, or pass the text file"
        )
    vtype = schema.field("vector").type
    if not (pa.types.is_fixed_size_list(vtype) or pa.types.is_list(vtype) or pa.types.is_large_list(vtype)) or not (
        pa.types.is_floating(vtype.value_type)
    ):
        raise FormatError(f"{path}: column 'vector' is {vtype}, not a list of floats: write it with emb embed -f parquet")
    meta = {}
    raw = (schema.metadata or {}).get(META_KEY)
    if raw:
        try:
            meta = json.loads(raw)
        except ValueError:
            meta = {}
    _check_same_model(path, meta, model)
    stored = meta.get("pooling")
    if pooling is not None and stored is not None and pooling != stored:
        raise UsageError(f"{path} was embedded with --pooling {stored}: drop --pooling or embed it again with {pooling}")
    pooling = pooling or stored or "mean"
    component = meta.get("sif_component")
    component = None if component is None else np.asarray(component, dtype=np.float32)
    rows = pf.metadata.num_rows
    if rows == 0:
        raise EmbError(f"{path}: no documents: embed a non-empty file")
    side = _sidecar(path, pf, rows, "line" in names, "text" in names) if rows >= _min_sidecar_rows() else None
    if side is not None:
        vectors, norms, numbers, texts, folder = side
    else:
        vectors = _read_vectors(path, pf)
        norms = row_norms(vectors)
        numbers = _line_numbers(pf, rows, "line" in names)
        texts, folder = _parquet_texts(pf, "text" in names), None
    if vectors.shape[1] != model.dim:
        raise UsageError(
            f"{path}: documents of dimension {vectors.shape[1]} but model {model.name!r} has {model.dim}:"
            " search with the model that embedded them (-m)"
        )
    return Docs(path, vectors, norms, numbers, texts, pooling, component, folder, meta=meta)


def _check_same_model(path: str, meta: dict, model: ModelFolder) -> None:
    """Refuse documents embedded with this model's folder as it was before it was trained or imported
    again: their vectors and the queries' would come from two different models."""
    then, now = meta.get("model_created"), model.meta.get("created")
    same_folder = meta.get("model_path") and os.path.realpath(meta["model_path"]) == os.path.realpath(model.path)
    # A file's cache entry (-m FILE) is named after the file's identity: made again, it is the same model.
    cached = Path(model.path).parent.name == "cache" and "import" in model.meta
    if same_folder and then and now and then != now and not cached:
        raise ModelError(
            f"{path} was embedded with model {meta.get('model', model.name)!r} as created {then}, and the model"
            f" has been replaced since (created {now}): embed the documents again (emb embed ... -o {path} --force)"
        )


def _line_numbers(pf, rows: int, has_line: bool) -> np.ndarray:
    if not has_line:
        return np.arange(1, rows + 1, dtype=np.int64)
    return pf.read(columns=["line"]).column("line").to_numpy().astype(np.int64)


def _min_sidecar_rows() -> int:
    from embcli import prefilter

    return prefilter.MIN_ROWS


def _read_vectors(path: str, pf) -> np.ndarray:
    """The vector column as a float32 [N, D] matrix (row groups decoded one by one)."""
    import pyarrow as pa

    blocks, dim = [], None
    for g in range(pf.num_row_groups):
        column = pf.read_row_group(g, columns=["vector"]).column("vector").combine_chunks()
        if column.null_count:
            raise FormatError(f"{path}: empty cells in column 'vector': write it with emb embed -f parquet")
        if pa.types.is_fixed_size_list(column.type):
            width = column.type.list_size
        else:
            lengths = np.diff(column.offsets.to_numpy())
            if lengths.size and (lengths != lengths[0]).any():
                raise FormatError(f"{path}: vectors of different lengths in column 'vector'")
            width = int(lengths[0]) if lengths.size else dim
        if dim is not None and width != dim:
            raise FormatError(f"{path}: vectors of different lengths in column 'vector'")
        dim = width
        values = column.flatten().to_numpy(zero_copy_only=False)
        blocks.append(np.asarray(values, dtype=np.float32).reshape(-1, width))
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]


def _parquet_texts(pf, has_text: bool) -> Callable[[np.ndarray], list[str]]:
    cache: dict = {}

    def texts(rows: np.ndarray) -> list[str]:
        if not has_text:
            return [""] * len(rows)
        if "column" not in cache:
            cache["column"] = pf.read(columns=["text"]).column("text").combine_chunks()
        return cache["column"].take(rows).to_pylist()

    return texts


def _stamp(path: str) -> dict:
    st = os.stat(path)
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


_SIDE_FILES = ("vectors.npy", "norms.npy", "lines.npy", "text_offsets.npy", "texts.bin")


def _sidecar(path: str, pf, rows: int, has_line: bool, has_text: bool):
    """(vectors, norms, line numbers, texts, folder) from the sidecar folder, built now if missing or
    stale; None when it cannot be written (the caller then works from the Parquet in memory).

    The folder holds the float32 vectors and their norms (memory-mapped), the line numbers, and the
    texts as one UTF-8 file with their offsets, so that the texts of the hits are read alone.
    """
    folder = Path(path + SIDECAR_SUFFIX)
    try:
        if json.loads((folder / _STAMP).read_text()) == _stamp(path):
            found = _open_sidecar(folder, rows)
            if found is not None:
                return found
    except (OSError, ValueError, ModelError):
        pass
    try:
        with atomic_dir(folder, force=True) as tmp:
            vectors = _read_vectors(path, pf)
            np.save(tmp / "vectors.npy", vectors)
            np.save(tmp / "norms.npy", row_norms(vectors))
            del vectors
            np.save(tmp / "lines.npy", _line_numbers(pf, rows, has_line))
            offsets = np.zeros(rows + 1, dtype=np.int64)
            with open(tmp / "texts.bin", "wb") as out:
                at = 0
                for g in range(pf.num_row_groups) if has_text else ():
                    column = pf.read_row_group(g, columns=["text"]).column("text").combine_chunks()
                    column = column.cast("large_string") if column.type != "large_string" else column
                    raw = column.buffers()
                    starts = np.frombuffer(raw[1], dtype=np.int64, count=len(column) + 1, offset=column.offset * 8)
                    out.write(memoryview(raw[2])[int(starts[0]) : int(starts[-1])])
                    offsets[at + 1 : at + 1 + len(column)] = offsets[at] + (starts[1:] - starts[0])
                    at += len(column)
            np.save(tmp / "text_offsets.npy", offsets)
            (tmp / _STAMP).write_text(json.dumps(_stamp(path)))
    except (OSError, EmbError):
        return None  # a folder we cannot write: search in memory
    return _open_sidecar(folder, rows)


def _open_sidecar(folder: Path, rows: int):
    if not all((folder / f).is_file() for f in _SIDE_FILES):
        return None
    vectors = load_array(folder / "vectors.npy", "document vectors")
    norms = load_array(folder / "norms.npy", "document norms")
    numbers = load_array(folder / "lines.npy", "line numbers")
    offsets = load_array(folder / "text_offsets.npy", "text offsets")
    if vectors.ndim != 2 or len(vectors) != rows or norms.shape != (rows,) or numbers.shape != (rows,) \
            or offsets.shape != (rows + 1,):
        return None
    data = np.memmap(folder / "texts.bin", dtype=np.uint8, mode="r") if offsets[-1] > 0 else np.zeros(0, np.uint8)
    if len(data) != offsets[-1]:
        return None

    def texts(which: np.ndarray) -> list[str]:
        return [bytes(data[offsets[r] : offsets[r + 1]]).decode("utf-8", "replace") for r in which.tolist()]

    return vectors, norms, numbers, texts, folder


def embed_queries(model: ModelFolder, docs: Docs, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of the query lines (as the documents were embedded) and which had a known word."""
    embedder = docs.embedder
    if embedder is None or embedder.model is not model:
        embedder = Embedder(model, docs.pooling, component=docs.component if docs.pooling == "sif" else None)
        docs.embedder = embedder
    pooled = embedder.pool(list(queries))
    vectors = pooled.vectors
    if docs.pooling == "sif" and embedder.component is not None:
        embedder.remove_component(vectors)
    norms = np.linalg.norm(vectors, axis=1)
    ok = (pooled.words > 0) & (norms > 0)
    units = np.zeros_like(vectors)
    units[ok] = vectors[ok] / norms[ok, None]
    return units, ok


def rank(docs: Docs, units: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best documents by cosine for each unit query vector: (rows, scores), best first.

    A batch of ``prefilter.MIN_QUERIES`` or more against ``prefilter.MIN_ROWS`` or more documents
    takes the int8 prefilter (same answers); smaller ones the float32 scan.
    """
    from embcli import prefilter

    n = len(docs)
    if (
        len(units) >= prefilter.MIN_QUERIES
        and n >= prefilter.MIN_ROWS
        and k <= prefilter.MAX_K
        and prefilter.available()
    ):
        index = None
        if docs.index_folder is not None:
            index = prefilter.index_for(docs.index_folder, docs.vectors, docs.norms)
        if index is None:
            if docs.index is None:
                docs.index = prefilter.build(docs.vectors, docs.norms)
            index = docs.index
        return prefilter.topk_cosine(index, docs.vectors, docs.norms, units, k, n)
    return topk(docs.vectors, docs.norms, units, k)


def search_docs(model: ModelFolder, docs: Docs, queries: Sequence[str], k: int = 10) -> list[DocResult]:
    """The k documents nearest to each query line by cosine; a query without a known word fails alone."""
    if k < 1:
        raise UsageError(f"-k must be at least 1 (got {k})")
    results = [DocResult(q) for q in queries]
    if not queries:
        return results
    units, ok = embed_queries(model, docs, queries)
    live = np.flatnonzero(ok)
    for i in np.flatnonzero(~ok).tolist():
        results[i].error = UnknownWordError(
            f"query {queries[i]!r} has no word in the vocabulary of model {model.name!r}: nothing to compare"
        )
    if live.size == 0:
        return results
    rows, scores = rank(docs, units[live], k)
    found = rows[rows >= 0]
    texts: dict[int, str] = {}
    if found.size:
        uniq = np.unique(found)
        texts = dict(zip(uniq.tolist(), docs.texts(uniq)))
    for j, i in enumerate(live.tolist()):
        hits = results[i].hits
        for r, s in zip(rows[j].tolist(), scores[j].tolist()):
            if r < 0 or not np.isfinite(s):
                break
            hits.append(DocHit(len(hits) + 1, int(docs.numbers[r]), float(s), texts[r], r))
    return results


def search(model: ModelFolder, queries: Sequence[str], docs: str | Sequence[str] | Docs, k: int = 10,
           pooling: str | None = None) -> list[DocResult]:
    """The k documents nearest each query line; ``docs`` is a path (as ``open_docs`` takes), a list
    of document lines, or a collection already opened (``Docs``, reused without embedding again)."""
    if isinstance(queries, str):
        raise UsageError("search takes a list of query lines, not one string: wrap it in a list")
    if isinstance(queries, (bytes, bytearray)):
        raise UsageError(f"a query line must be a string, not bytes ({queries!r:.60})")
    if isinstance(docs, Docs):
        if pooling is not None and pooling != docs.pooling:
            raise UsageError(f"the collection was embedded with pooling {docs.pooling}, not {pooling}")
    elif isinstance(docs, (str, os.PathLike)):
        docs = open_docs(model, str(docs), pooling)
    else:
        docs = docs_from_lines(model, docs, pooling or "mean")
    return search_docs(model, docs, list(queries), k=k)
