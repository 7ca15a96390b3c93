"""The module functions of the API: load, models, train, phrases, evaluate."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from embcli import query as _query
from embcli.api.model import Model, ProgressFn
from embcli.errors import ModelError, UsageError
from embcli.names import OOV_POLICIES
from embcli.store import ModelInfo, ModelStore


def load(spec: str | Path | None = None) -> Model:
    """Open a model: a store name, a model folder, or a vector file (word2vec text or binary, GloVe,
    fastText .vec/.bin, Parquet; compressed too), which is read once into a cache and then
    memory-mapped like a folder. ``None`` opens the store's default model.

    Raises ``ModelError`` for an unknown name or a damaged folder and ``FormatError`` for a file that
    is no vector file.
    """
    from embcli.open import open_model

    return Model(open_model(None if spec is None else str(spec)))


@dataclass
class ModelSummary(ModelInfo):
    """A model of the store, what ``emb models list`` shows: ``store.ModelInfo`` with ``to_dict``."""

    def to_dict(self) -> dict:
        """The fields as a dict (``path`` as a string)."""
        return {**asdict(self), "path": str(self.path)}


def models() -> list[ModelSummary]:
    """The models of the store (``EMB_HOME``), by name."""
    return [ModelSummary(**asdict(info)) for info in ModelStore().list()]


def train(
    corpus: str | Path | Sequence[str | Path],
    algo: str = "word2vec",
    *,
    name: str | None = None,
    output: str | Path | None = None,
    force: bool = False,
    make_default: bool = True,
    tokenizer: str = "unicode",
    lowercase: bool | None = None,
    min_token_length: int = 1,
    pos_filter: str = "all",
    pos_tags: bool = False,
    progress: ProgressFn | None = None,
    **options,
) -> Model:
    """Train a model on text files (paths, folders, globs; compressed files are read as they are).

    The model goes into the store as ``name`` (by default ``CORPUS-ALGO``, made the default model
    unless ``make_default=False``), or into the folder ``output``. ``options`` are ``emb train``'s:
    ``dim``, ``window``, ``epochs``, ``min_count``, ``max_vocab``, ``arch``, ``loss``, ``negative``,
    ``sample``, ``ns_exponent``, ``lr``, ``minn``, ``maxn``, ``buckets`` (FastText), ``memory``,
    ``x_max``, ``alpha`` (GloVe), ``threads``, ``seed``, and ``phrases`` (phrase passes before
    training, as ``phrases`` does but with ``phrase_threshold`` 50 unless given, ``phrase_scoring``
    and ``connector_words``: the model keeps its phrase table and joins query words with it). ``tokenizer="ko"``, ``"ja"`` or ``"zh"``
    splits Korean, Japanese or Chinese into morphemes (extras ``embcli[ko]`` ...), ``pos_filter="content"``
    keeping only content morphemes and ``pos_tags=True`` tagging them. ``progress(stage, done, total, info)`` is
    called while tokenizing (bytes) and after each epoch. The run's figures are in ``model.trained``.
    """
    from embcli.corpus import Corpus
    from embcli.tokenize import TokenizerSettings
    from embcli.training.options import TrainOptions
    from embcli.training.run import default_model_name, train_to_folder, train_to_store

    inputs = [str(corpus)] if isinstance(corpus, (str, Path)) else [str(c) for c in corpus]
    if name is not None and output is not None:
        raise UsageError("give --name or --output, not both")
    try:
        settings = TrainOptions(algo=algo, **options)
    except TypeError as exc:
        raise UsageError(f"unknown training option: {exc}") from None
    settings = settings.resolved()
    tokenizer_settings = TokenizerSettings(
        mode=tokenizer, lowercase=lowercase, min_token_length=min_token_length, pos_filter=pos_filter, pos_tags=pos_tags
    )
    tokenizer_settings.check_installed()
    source = Corpus(inputs)
    if output is not None:
        from embcli.api.paths import writing

        with writing(output):
            result = train_to_folder(source, tokenizer_settings, settings, Path(output), force=force,
                                     on_progress=progress)
    else:
        store = ModelStore()
        name = name or default_model_name(inputs, settings.algo)
        if store.path(name).exists() and not force:
            raise ModelError(f"model {name!r} exists: pass --force to replace it, or --name to choose another")
        result = train_to_store(store, name, source, tokenizer_settings, settings, force=force,
                                make_default=make_default, on_progress=progress)
    model = Model(result.path)
    model.trained = result
    return model


@dataclass
class PhrasesResult:
    """What ``phrases`` did: the phrase table (``table.passes``: phrase -> score, a dict a pass) and
    the corpus read and written."""

    table: object
    lines: int
    tokens_in: int
    tokens_out: int
    replaced_bytes: int
    seconds: float
    output: Path | None = None

    @property
    def found(self) -> list[int]:
        """How many phrases each pass found."""
        return [len(p) for p in self.table.passes]

    def to_dict(self) -> dict:
        """The figures as a dict (for JSON); the table's settings under ``settings``."""
        return {"settings": self.table.settings.as_dict(), "found": self.found, "lines": self.lines,
                "tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "replaced_bytes": self.replaced_bytes,
                "seconds": round(self.seconds, 3), "output": None if self.output is None else str(self.output)}


def phrases(
    corpus: str | Path | Sequence[str | Path],
    output: str | Path | None = None,
    *,
    stream=None,
    passes: int = 2,
    min_count: int = 5,
    threshold: float | None = None,
    scoring: str = "default",
    connector_words: str = "none",
    max_vocab: int | None = None,
    force: bool = False,
    tokenizer: str = "unicode",
    lowercase: bool | None = None,
    min_token_length: int = 1,
    pos_filter: str = "all",
    pos_tags: bool = False,
    threads: int | None = None,
    progress: ProgressFn | None = None,
) -> PhrasesResult:
    """Tokenize a corpus as ``train`` does and join its phrases (``new york`` -> ``new_york``, and
    after two passes ``new_york times`` -> ``new_york_times``): gensim's ``Phrases`` (same scores,
    same phrases), see ``embcli.phrasing``. Writes one sentence a line, tokens separated by spaces, to
    the file ``output`` (replaced only with ``force``) or to the text ``stream``.

    ``threshold`` defaults to 10 (``scoring="default"``) or 0.5 (``"npmi"``); ``connector_words``
    ``"english"`` lets phrases hold gensim's English connector words (``bank_of_america``);
    ``max_vocab`` bounds the table of counts as gensim's ``max_vocab_size`` (default 40,000,000).
    """
    import tempfile
    import time

    from embcli.corpus import Corpus
    from embcli.folder.output import output_target, write_file
    from embcli.phrasing import MAX_VOCAB, PhraseSettings, PhraseTable, check_passes, phrase_file
    from embcli.tokenize import TokenizerSettings
    from embcli.training.options import available_cores
    from embcli.training.prepare import prepare_corpus

    started = time.perf_counter()
    if threshold is None:
        threshold = 0.5 if scoring == "npmi" else 10.0
    settings = PhraseSettings(min_count=min_count, threshold=threshold, scoring=scoring,
                              connector_words=connector_words, max_vocab=MAX_VOCAB if max_vocab is None else max_vocab)
    check_passes(passes)
    if (output is None) == (stream is None):
        raise UsageError("give an output file or a stream to write the text with phrases to (one of them)")
    if output is not None:
        output_target(Path(output), force)  # refused now, not after reading the corpus
    tok = TokenizerSettings(mode=tokenizer, lowercase=lowercase, min_token_length=min_token_length,
                            pos_filter=pos_filter, pos_tags=pos_tags)
    tok.check_installed()
    if threads is not None and threads < 1:
        raise UsageError("--threads must be at least 1")
    inputs = [str(corpus)] if isinstance(corpus, (str, Path)) else [str(c) for c in corpus]
    table = PhraseTable(settings)
    with tempfile.TemporaryDirectory(prefix="emb-phrases-") as tmp:
        src = Path(tmp) / "tokens.txt"
        prepared = prepare_corpus(Corpus(inputs), tok, src, progress, workers=threads or available_cores())
        for n in range(passes):
            if n < passes - 1:
                dst = Path(tmp) / f"pass{n + 1}.txt"
                result = phrase_file(src, dst, settings)
                src.unlink()
                src = dst
            elif output is not None:
                result = write_file(Path(output), lambda path: phrase_file(src, path, settings), force=force)
            else:
                result = phrase_file(src, stream, settings)
            table.passes.append(result.phrases)
    return PhrasesResult(table, prepared.stats.lines, prepared.stats.tokens, result.tokens_out,
                         prepared.stats.replaced_bytes, time.perf_counter() - started,
                         None if output is None else Path(output))


@dataclass
class Evaluation:
    """One score of ``evaluate``: a section of an analogy set, or a word-similarity set.

    ``kind`` is ``analogy-add``/``analogy-mul`` (``score`` is the accuracy over answered questions)
    or ``similarity-spearman`` (``score`` is Spearman's rho, ``pearson`` Pearson's r).
    """

    model: str
    dataset: str
    kind: str
    section: str
    score: float | None
    pearson: float | None
    correct: int | None
    answered: int
    questions: int
    coverage: float
    oov: str

    def to_dict(self) -> dict:
        """The fields as a dict (for JSON)."""
        return asdict(self)


def evaluate(
    models: str | Model | Sequence[str | Model] | None = None,
    analogies: str | Path | Sequence[str | Path] | None = None,
    similarity: str | Path | Sequence[str | Path] | None = None,
    method: str = "add",
    restrict_vocab: int = 300_000,
    case_sensitive: bool = False,
    oov: str = "skip",
) -> list[Evaluation]:
    """Score models on analogy sets (``: section`` and ``a b c d`` lines) and word-pair sets
    (``w1 w2 score``); with neither, on the standard ones (Google analogies, WS353, SimLex-999).

    ``models``: names, folders, files or ``Model`` objects (None: the default model). Questions with
    unknown words are skipped and counted (``oov="skip"``) or counted wrong (``oov="wrong"``).
    Returns one ``Evaluation`` per analogy section (with semantic, syntactic and total lines) and per
    similarity set.
    """
    from embcli.evaluation import ANALOGY_SETS, SIMILARITY_SETS, default_dataset, evaluate_analogies, evaluate_pairs

    if oov not in OOV_POLICIES:
        raise UsageError(f"unknown oov policy {oov!r}: use one of {', '.join(OOV_POLICIES)}")
    _query.check_options(method=method)
    analogies = _paths(analogies)
    similarity = _paths(similarity)
    if not analogies and not similarity:
        analogies = [default_dataset(n) for n in ANALOGY_SETS]
        similarity = [default_dataset(n) for n in SIMILARITY_SETS]
    if models is None or isinstance(models, (str, Path, Model)):
        models = [models]
    opened = [m if isinstance(m, Model) else load(m) for m in models]
    rows: list[Evaluation] = []
    for model in opened:
        for path in analogies:
            res = evaluate_analogies(model.folder, path, method=method, restrict_vocab=restrict_vocab,
                                     case_insensitive=not case_sensitive, oov=oov)
            for part in res.sections + [p for p in (res.semantic, res.syntactic) if p] + [res.total]:
                rows.append(Evaluation(model.name, Path(path).name, f"analogy-{method}", part.section, part.accuracy,
                                       None, part.correct, part.answered, part.questions, part.coverage, oov))
        for path in similarity:
            res = evaluate_pairs(model.folder, path, restrict_vocab=restrict_vocab,
                                 case_insensitive=not case_sensitive, oov=oov)
            rows.append(Evaluation(model.name, Path(path).name, "similarity-spearman", "total", res.spearman,
                                   res.pearson, None, res.answered, res.pairs, res.coverage, oov))
    return rows


def search(queries: str | Sequence[str], docs, model: str | Model | None = None, k: int = 10,
           pooling: str | None = None):
    """The ``k`` documents of ``docs`` nearest each query line by cosine: ``Model.search`` on
    ``model`` (a name, folder, file or ``Model``; None: the default model)."""
    opened = model if isinstance(model, Model) else load(model)
    return opened.search(queries, docs, k=k, pooling=pooling)


def _paths(value) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [Path(value)]
    return [Path(v) for v in value]


