"""``embcli.Model``: a model opened for reading, its vocabulary, vectors and queries."""

from __future__ import annotations

from collections import abc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator, Sequence, Union

import numpy as np

from embcli import query as _query
from embcli.api.shrink import Shrinking
from embcli.errors import UsageError
from embcli.lookup import lookup
from embcli.query import Hit, QueryResult, SimilarityResult, VectorResult

if TYPE_CHECKING:  # (imported where they are made: a query need not import them)
    from embcli.api.lines import EmbeddedBlock, EmbedSummary
    from embcli.api.maps import Alignment
    from embcli.api.results import Transfer

# A query for ``neighbors``: a word, several words, one vector or a matrix of vectors.
QueryLike = Union[str, Sequence[str], np.ndarray, Sequence[float]]
# on_progress(stage, done, total, info): stage "tokenize" (bytes read) or "train" (epochs done).
ProgressFn = Callable[[str, float, "float | None", dict], None]

__all__ = ["Model", "Neighbor", "QueryLike", "ProgressFn"]


@dataclass
class Neighbor(Hit):
    """One answer of a query: 1-based ``rank``, ``word``, ``score`` and the word's row ``index``.

    The score is a cosine similarity (higher is nearer), a Euclidean distance (lower is nearer) or a
    dot product, as the query's metric says; analogies by ``mul`` give 3CosMul scores.
    """

    def to_dict(self) -> dict:
        """The fields as a dict (for JSON)."""
        return asdict(self)


def _neighbors(hits: Sequence[Hit]) -> list[Neighbor]:
    return [Neighbor(h.rank, h.word, h.score, h.index) for h in hits]


def _raise_first(results: Sequence) -> None:
    for res in results:
        if res.error is not None:
            raise res.error


class Model(Shrinking):
    """A model opened for reading: its vocabulary, its memory-mapped vectors and its queries.

    Words given to a query are read as the model's own tokenizer reads text (for instance lower-cased),
    as ``emb`` does; a FastText model answers words it never saw from their character n-grams.
    Get one with ``embcli.load``, ``embcli.train``, or ``Model(folder)`` on a model folder.
    """

    #: For a model returned by ``embcli.train``: the run's figures (tokens, seconds, words per second).
    trained = None

    def __init__(self, folder):
        if isinstance(folder, (str, Path)):
            from embcli.folder import ModelFolder

            folder = ModelFolder(Path(folder))
        self._folder = folder

    # ------------------------------------------------------------------------------ description

    @property
    def folder(self):
        """The underlying model folder reader (vocabulary lookups, metadata, arrays)."""
        return self._folder

    @property
    def name(self) -> str:
        """The model's name: its folder's name."""
        return self._folder.name

    @property
    def path(self) -> Path:
        """The model folder."""
        return self._folder.path

    @property
    def meta(self) -> dict:
        """The model's metadata (``meta.json``): algorithm, training options, corpus, tokenizer."""
        return self._folder.meta

    @property
    def algorithm(self) -> str:
        """The algorithm that made the vectors (word2vec, fasttext, glove) or their source format."""
        return self._folder.algorithm

    @property
    def dim(self) -> int:
        """The dimension of the vectors."""
        return self._folder.dim

    @property
    def storage(self) -> str:
        """How the vectors are stored: float32, float16, int8 or pq (``emb compress``)."""
        return self._folder.storage

    @property
    def words(self) -> "Words":
        """The vocabulary, most frequent first (row ``i`` of ``vectors`` is ``words[i]``): a read-only
        sequence, as ``vectors`` is a read-only array (``list(model.words)`` for a list of one's own)."""
        return Words(self._folder.words)

    @property
    def vectors(self) -> np.ndarray:
        """The vectors as a read-only float32 matrix of ``len(model)`` x ``dim`` (memory-mapped; decoded
        whole for a compressed model, whose queries decode a block at a time instead)."""
        vectors = self._folder.vectors
        # A compressed model (emb compress) decodes its rows: the whole matrix, as float32.
        view = vectors.view() if isinstance(vectors, np.ndarray) else np.asarray(vectors)
        view.flags.writeable = False
        return view

    @property
    def norms(self) -> np.ndarray:
        """The Euclidean length of every row of ``vectors`` (read-only)."""
        view = np.asarray(self._folder.norms).view()
        view.flags.writeable = False
        return view

    @property
    def counts(self) -> np.ndarray | None:
        """How often each word occurred in the training corpus, or None when the source had no counts."""
        counts = self._folder.counts
        if counts is None:
            return None
        view = counts.view()
        view.flags.writeable = False
        return view

    @property
    def subwords(self) -> bool:
        """Whether the model builds vectors for unseen words from character n-grams (FastText)."""
        return bool(self._folder.meta.get("fasttext")) and self._folder.ngrams is not None

    def __len__(self) -> int:
        return self._folder.vocab_size

    def __contains__(self, word: object) -> bool:
        """Whether ``word`` (read as the model's tokenizer reads it) is in the vocabulary."""
        if not isinstance(word, str):
            return False
        normal = self._folder.normalize(word)
        return bool(normal) and self._folder.index_of(normal) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.words)

    def __repr__(self) -> str:
        return f"<embcli.Model {self.name!r}: {len(self):,} words x {self.dim} dims ({self.algorithm})>"

    def index(self, word: str) -> int:
        """The row of ``word`` in ``vectors``; ``UnknownWordError`` when it is not in the vocabulary."""
        term = lookup(self._folder, word)
        if term.index is None:
            from embcli.errors import UnknownWordError

            raise UnknownWordError(f"unknown word {word!r}: not among the {len(self)} words of model {self.name!r}"
                                   " (FastText builds a vector for it, but it has no row)")
        return term.index

    # ------------------------------------------------------------------------------ vectors

    def vector(self, word: str, normalize: bool = False) -> np.ndarray:
        """The vector of ``word`` (a read-only row, or built from n-grams); unit length if asked."""
        (res,) = _query.vectors(self._folder, [word], normalize=normalize)
        _raise_first([res])
        out = res.vector
        if res.term is not None and res.term.index is not None and not normalize:
            out = self.vectors[res.term.index]
        return out

    def __getitem__(self, word: str | Sequence[str]) -> np.ndarray:
        """``model["king"]``: the word's vector; a list of words gives a matrix, one row each."""
        if isinstance(word, str):
            return self.vector(word)
        if not isinstance(word, (list, tuple)):
            raise UsageError(f"model[...] takes a word or a list of words, not {type(word).__name__}")
        return np.stack([self.vector(w) for w in word]) if len(word) else np.zeros((0, self.dim), np.float32)

    # ------------------------------------------------------------------------------ queries

    def neighbors(self, query: QueryLike, k: int = 10, metric: str = "cosine",
                  restrict: int | None = None, exact: bool = False) -> list[Neighbor] | list[list[Neighbor]]:
        """The ``k`` nearest words of a word, a vector, or each of several words or vectors.

        ``query`` is a word (its own row is never an answer), a 1-D vector of the model's dimension,
        a list of words or a 2-D array (one answer list each, computed in one pass over the matrix).
        ``metric``: ``cosine`` (as gensim's most_similar), ``euclidean`` (distance, nearest first) or
        ``dot``. ``restrict`` searches only the N most frequent words. A model with an HNSW index
        (``build_index``) answers cosine queries through it; ``exact=True`` scans every row instead.
        """
        if isinstance(query, str):
            return self.neighbors_many([query], k, metric, restrict, exact)[0]
        if not isinstance(query, (np.ndarray, list, tuple)):
            raise UsageError(f"neighbors takes a word, a vector, or a list of them, not {type(query).__name__}")
        if isinstance(query, np.ndarray) and query.ndim == 2:
            return [_neighbors(h) for h in _query.neighbors_of_vectors(self._folder, list(query), k, metric, restrict, exact)]
        if not isinstance(query, np.ndarray) and any(isinstance(q, (bytes, bytearray)) for q in query):
            raise UsageError("a query word must be a string, not bytes")
        if isinstance(query, np.ndarray) or (len(query) and not isinstance(query[0], str)):
            return _neighbors(_query.neighbors_of_vectors(self._folder, [query], k, metric, restrict, exact)[0])
        return self.neighbors_many(list(query), k, metric, restrict, exact)

    def queries_per_batch(self, k: int, restrict: int | None = None) -> int:
        """How many queries of ``k`` answers a program should ask together so that one batch's
        answers stay within a bounded memory (about a million answers), however large ``k`` is."""
        return _query.queries_per_pass(self._folder, k, restrict)

    def neighbors_many(self, words: Sequence[str], k: int = 10, metric: str = "cosine",
                       restrict: int | None = None, exact: bool = False) -> list[list[Neighbor]]:
        """``neighbors`` of each word, answered together; raises the first query's error."""
        results = self.query_neighbors(words, k, metric, restrict, exact)
        _raise_first(results)
        return [_neighbors(r.hits) for r in results]

    def query_neighbors(self, words: Sequence[str], k: int = 10, metric: str = "cosine",
                        restrict: int | None = None, exact: bool = False) -> list[QueryResult]:
        """``neighbors`` of many words for a stream of queries: a failed query carries its ``error``
        (an unknown word) instead of raising, and the others are answered. Bad ``k``/``metric`` raise."""
        return _query.neighbors(self._folder, list(words), k=k, metric=metric, restrict=restrict, exact=exact)

    def analogy(self, a: str, b: str, c: str, k: int = 5, method: str = "add",
                restrict: int | None = None) -> list[Neighbor]:
        """The answers to ``a - b + c`` ("b is to a as c is to ?"): ``analogy("king", "man", "woman")``
        gives queen. ``add`` is 3CosAdd (gensim's most_similar), ``mul`` 3CosMul (most_similar_cosmul).
        The three words are never answers."""
        (res,) = self.query_analogies([(a, b, c)], k, method, restrict)
        _raise_first([res])
        return _neighbors(res.hits)

    def query_analogies(self, queries: Sequence[Sequence[str]], k: int = 5, method: str = "add",
                        restrict: int | None = None) -> list[QueryResult]:
        """``analogy`` for many (a, b, c) at once; a failed query carries its ``error``."""
        return _query.analogy(self._folder, [list(q) for q in queries], k=k, method=method, restrict=restrict)

    def similarity(self, a: str, b: str) -> float:
        """The cosine similarity of two words (gensim's ``similarity``)."""
        (res,) = self.query_similarities([(a, b)])
        _raise_first([res])
        return float(res.score)

    def query_similarities(self, pairs: Sequence[Sequence[str]]) -> list[SimilarityResult]:
        """``similarity`` for many pairs; a failed pair carries its ``error``."""
        return _query.similarity(self._folder, [list(p) for p in pairs])

    def query_vectors(self, words: Sequence[str], normalize: bool = False) -> list[VectorResult]:
        """``vector`` for many words; a failed word carries its ``error``."""
        return _query.vectors(self._folder, list(words), normalize=normalize)

    def most_similar(self, positive: QueryLike = (), negative: QueryLike = (), k: int = 10,
                     restrict: int | None = None, *, topn: int | None = None,
                     restrict_vocab: int | None = None) -> list[Neighbor]:
        """gensim's ``most_similar``: the words nearest to the positive words and vectors minus the
        negative ones. Words count at unit length, vectors as given, each with weight +1 or -1, and
        their mean is searched by cosine; the input words are never answers. gensim's own names
        ``topn`` and ``restrict_vocab`` work as ``k`` and ``restrict``.

        ``most_similar(positive=["king", "woman"], negative=["man"])`` gives queen.
        """
        k = k if topn is None else topn
        restrict = restrict if restrict_vocab is None else restrict_vocab
        return _neighbors(_query.most_similar(
            self._folder, _items(positive), _items(negative), k=k, restrict=restrict))

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the others' unit vectors (gensim's ``doesnt_match``).

        Unlike gensim, an unknown word is an error rather than silently left out.
        """
        return self.rank_by_centrality(words)[-1][1]

    def rank_by_centrality(self, words: Sequence[str]) -> list[tuple[float, str]]:
        """(cosine to the mean, word) for each word, the most central first (gensim's ranking)."""
        if isinstance(words, str):
            raise UsageError("give a list of words, not one string")
        return _query.rank_by_centrality(self._folder, list(words))

    # ------------------------------------------------------------------------------ lines of text

    def embed(self, lines: Sequence[str], pooling: str = "mean", component: np.ndarray | None = None) -> np.ndarray:
        """One vector for each line of text (a sentence, a document, a session of item ids): a float32
        [len(lines), dim] array, as ``emb embed`` writes them.

        ``pooling``: ``mean`` (the mean of the unit vectors of the line's known words), ``sif`` (smooth
        inverse frequency weights from the model's counts, the first principal component of these
        lines removed: at least 10 of them must have a known word) or ``fasttext`` (fastText's own
        sentence vector, for fastText models). For ``sif``, ``component`` removes a component given
        instead (a larger collection's, from ``embed_lines``' blocks or an ``emb embed`` Parquet).
        Words are found by the model's tokenizer; a line without a known word gets a zero vector.
        """
        from embcli.sentences import embed_lines

        return embed_lines(self._folder, lines, pooling, component)

    def embed_lines(self, lines: Iterable[str], pooling: str = "mean", *, sif_sample: int = 100_000,
                    batch: int = 8192, reuse: bool = False) -> Iterator[EmbeddedBlock]:
        """Embed a stream of lines (a file object, a generator) block by block, in bounded memory:
        an iterator of ``EmbeddedBlock`` (``numbers`` counted from 1, ``lines``, ``vectors``,
        ``empty``, ``component``). Blocks are pooled in two threads while the next is read.

        For ``sif`` the component comes from the first ``sif_sample`` lines, held back until then.
        With ``reuse`` a block's ``vectors`` are overwritten by a later block: for a consumer that
        is done with each block (writes it out) before asking for the next. Bad settings (a pooling
        the model cannot do) raise here, before any line is read.
        """
        from embcli.api.lines import embed_blocks

        return embed_blocks(self._folder, lines, pooling, sif_sample, batch, reuse)

    def embed_file(self, inputs: str | Path | Sequence[str | Path], output: str | Path | BinaryIO,
                   pooling: str = "mean", format: str | None = None, empty: str = "zero",
                   sif_sample: int = 100_000, force: bool = False) -> EmbedSummary:
        """Embed every line of text files (``-``: stdin; compressed files as they are) into one vector
        file, as ``emb embed`` does: ``format`` tsv or jsonl (line, text, vector), npy (the matrix) or
        parquet (line, text, vector; the model, pooling and SIF component in its metadata, for
        ``search``); None takes it from the output's suffix (TSV for others and for streams).
        ``output`` is a path (an existing file is refused unless ``force``, then replaced atomically)
        or a binary stream. Lines without a known word get a zero vector (``empty="zero"``) or are left
        out (``"drop"``); the returned ``EmbedSummary`` counts them. Input that is not UTF-8 raises
        ``CorpusError``."""
        from embcli.api.lines import embed_file

        return embed_file(self._folder, inputs, output, pooling, format, empty, sif_sample, force)

    def open_docs(self, source: str | Path | Sequence[str], pooling: str | None = None):
        """A collection of documents to search many times (``search``, ``query_docs``): a Parquet
        written by ``embed_file`` (its vectors reused), a text file (one document a line, embedded
        now) or a list of lines. ``len()`` is its size, ``empty`` how many have no known word and
        ``meta`` a Parquet's metadata (the model that embedded it)."""
        from embcli.api.lines import open_docs

        return open_docs(self._folder, source, pooling)

    def query_docs(self, queries: Sequence[str], docs, k: int = 10) -> list:
        """``search`` for a stream of queries against a collection from ``open_docs``: one
        ``DocResult`` per query (``query``, ``hits``), a query without a known word carrying its
        ``error`` instead of raising. A bad ``k`` raises."""
        from embcli.docsearch import search_docs

        return search_docs(self._folder, docs, list(queries), k=k)

    def search(self, queries: str | Sequence[str], docs, k: int = 10, pooling: str | None = None):
        """The ``k`` documents nearest a query line by cosine, as ``emb search``: a list of ``DocHit``
        (rank, line, score, text), or one such list for each query of a list.

        ``docs``: a text file (one document a line, embedded now), a Parquet written by ``emb embed -f
        parquet`` (its vectors, pooling and SIF component reused), a list of document lines, or a
        collection from ``embcli.docsearch.open_docs`` (reused without embedding again). A query
        without a known word raises ``EmbError``.
        """
        from embcli.docsearch import search as _search

        if isinstance(queries, (bytes, bytearray)):
            raise UsageError(f"a query line must be a string, not bytes ({queries!r:.60})")
        many = not isinstance(queries, str)
        results = _search(self._folder, list(queries) if many else [queries], docs, k=k, pooling=pooling)
        _raise_first(results)
        hits = [r.hits for r in results]
        return hits if many else hits[0]

    # ------------------------------------------------------------------------------ out

    def export(self, path: str | Path, format: str | None = None, limit: int | None = None,
               normalize: bool = False, force: bool = False, progress=None):
        """Write the model to a file in an external format (``-``: stdout); return a ``Transfer``
        (format written, rows). ``format`` is one of ``embcli.formats.WRITABLE`` (word2vec,
        word2vec-binary, glove, fasttext-vec, parquet, folder); by default it follows the suffix.
        ``limit`` keeps the N most frequent words, ``normalize`` writes unit vectors."""
        from embcli.api.paths import writing
        from embcli.api.results import Transfer
        from embcli.formats.convert import export_model

        with writing(path):
            written, rows = export_model(self._folder, str(path), format, limit, normalize, force, progress)
        return Transfer(self.name, str(path), None, written, rows, self.dim)

    # ------------------------------------------------------------------------------ maps, clusters

    def plot(self, words: Sequence[str] | None = None, method: str = "pca", path: str | Path | None = None,
             top: int | None = None, neighbors_of: str | None = None, k: int = 30, seed: int = 0,
             clusters: int | None = None, compare: "Model | None" = None, force: bool = False):
        """A 2-D map of ``words`` (or the ``top`` most frequent, or ``neighbors_of`` a word and its
        ``k`` nearest): a matplotlib Figure, or with ``path`` (.png, .svg, .html) the file's Path.
        ``method`` is pca, tsne or umap (seeded by ``seed``); ``clusters`` colours words by k-means;
        ``compare`` maps another model beside this one, rotated onto it by orthogonal Procrustes;
        an existing ``path`` is refused unless ``force``. Needs the ``plot`` extra."""
        from embcli import render

        if isinstance(words, str):
            raise UsageError("give a list of words, not one string")
        models = [self._folder] + ([compare._folder if isinstance(compare, Model) else compare] if compare else [])
        return render.plot(models, list(words) if words else None, method, path, top, neighbors_of, k, seed, clusters,
                           force)

    def cluster(self, k: int = 100, top: int | None = 10_000, seed: int = 0):
        """k-means of the unit vectors of the ``top`` most frequent words into ``k`` clusters: a
        ``Clusters`` (``words``, ``labels``, ``distances`` (cosine, to the centre), ``centers``,
        ``central(n)``, ``sizes()``). Needs the ``plot`` extra (scikit-learn)."""
        from embcli.clusters import cluster_model

        return cluster_model(self._folder, k, top, seed)

    def align(self, other: "Model", words: Sequence[str] | None = None, top: int | None = None,
              neighbors_of: str | None = None, k: int = 30) -> Alignment:
        """Rotate ``other`` onto this model by orthogonal Procrustes on the shared frequent words and
        rank the chosen words (a list, the ``top`` most frequent, or ``neighbors_of`` a word and its
        ``k`` nearest; by default the 300 most frequent) by the cosine distance between their two
        aligned vectors: an ``Alignment`` whose ``moved`` lists (word, distance), largest first."""
        from embcli.api.maps import align

        return align(self._folder, other, words, top, neighbors_of, k)

    def write_projector(self, folder: str | Path, limit: int | None = None, clusters: Sequence[int] | None = None,
                        normalize: bool = False, force: bool = False) -> int:
        """A folder for TensorBoard's Embedding Projector of the first ``limit`` words (with a cluster
        column given ``clusters``, e.g. ``model.cluster(k).labels``); the rows written."""
        from embcli.api.maps import write_projector

        return write_projector(self._folder, folder, limit, clusters, normalize, force)

    def to_gensim(self):
        """A gensim ``KeyedVectors`` over the same numbers: the memory-mapped matrix is shared, not
        copied (it is read-only). Counts are kept as gensim's ``count`` attribute. FastText n-grams
        are not carried over: the result knows the vocabulary's words only."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(self.dim, count=0, dtype=np.float32)
        kv.vectors = self.vectors
        kv.index_to_key = list(self.words)
        kv.key_to_index = {w: i for i, w in reversed(list(enumerate(kv.index_to_key)))}
        kv.norms = np.asarray(self._folder.norms)
        counts = self._folder.counts
        if counts is not None:
            kv.expandos["count"] = np.asarray(counts)
        return kv


class Words(abc.Sequence):
    """A read-only view of a model's words: indexing, slicing (a new list), ``len``, ``in``, iteration,
    and equality with lists and tuples. Sorting or assigning into the model's own list changed which
    word every row answered for."""

    __slots__ = ("_words",)

    def __init__(self, words: list[str]):
        self._words = words

    def __getitem__(self, i):
        return self._words[i]

    def __len__(self) -> int:
        return len(self._words)

    def __iter__(self):
        return iter(self._words)

    def __contains__(self, word) -> bool:
        return word in self._words

    def __eq__(self, other) -> bool:
        if isinstance(other, Words):
            return self._words == other._words
        if isinstance(other, (list, tuple)):
            return self._words == list(other)
        return NotImplemented

    __hash__ = None  # a view of a list: not hashable, as the list is not

    def __repr__(self) -> str:
        return repr(self._words)


def _items(items: QueryLike) -> list:
    """Positive or negative items as a list: one word or one vector is a list of one."""
    if items is None:
        return []
    if isinstance(items, str):
        return [items]
    if isinstance(items, np.ndarray):
        return [items] if items.ndim == 1 else list(items)
    items = list(items)
    if any(isinstance(x, (bytes, bytearray)) for x in items):
        raise UsageError("a query word must be a string, not bytes")
    if items and all(isinstance(x, (int, float, np.floating, np.integer)) for x in items):
        return [np.asarray(items, dtype=np.float32)]
    return items
