"""The module functions of the API: load, models, train, phrases, evaluate."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from embcli import query as _query
from embcli.api.model import Model, ProgressFn
from embcli.api.paths import input_paths
from embcli.errors import EmbError, ModelError, UsageError
from embcli.names import OOV_POLICIES
from embcli.store import ModelInfo, ModelStore, check_name


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
    algo: str | None = None,
    *,
    name: str | None = None,
    output: str | Path | None = None,
    force: bool = False,
    make_default: bool = True,
    tokenizer: str | None = None,
    lowercase: bool | None = None,
    min_token_length: int | None = None,
    pos_filter: str | None = None,
    pos_tags: bool | None = None,
    progress: ProgressFn | None = None,
    continue_from: str | Path | None = None,
    init: str | Path | None = None,
    state: bool = True,
    new_weight: float | None = None,
    engine: str = "local",
    master: str | None = None,
    conf: dict[str, str] | Sequence[str] | None = None,
    partitions: int | None = None,
    spark_logs: bool = False,
    **options,
) -> Model:
    """Train a model on text files (paths, folders, globs; compressed files are read as they are).

    The model goes into the store as ``name`` (by default ``CORPUS-ALGO``, made the default model
    unless ``make_default=False``), or into the folder ``output``. ``algo`` is word2vec (the
    default), fasttext or glove; ``options`` are ``emb train``'s:
    ``dim``, ``window``, ``epochs``, ``min_count``, ``max_vocab``, ``arch``, ``loss``, ``negative``,
    ``sample``, ``ns_exponent``, ``lr``, ``minn``, ``maxn``, ``buckets`` (FastText), ``memory``,
    ``x_max``, ``alpha`` (GloVe), ``threads``, ``seed``, and ``phrases`` (phrase passes before
    training, as ``phrases`` does but with ``phrase_threshold`` 50 unless given, ``phrase_scoring``
    and ``connector_words``: the model keeps its phrase table and joins query words with it). ``tokenizer="ko"``, ``"ja"`` or ``"zh"``
    splits Korean, Japanese or Chinese into morphemes (extras ``embcli[ko]`` ...), ``pos_filter="content"``
    keeping only content morphemes and ``pos_tags=True`` tagging them. ``progress(stage, done, total, info)`` is
    called while tokenizing (bytes) and after each epoch. The run's figures are in ``model.trained``.

    ``continue_from`` (a model name or folder) trains that model further on the corpus: its
    settings and tokenizer are kept (an option contradicting them is a ``UsageError``), the other
    options default to its own, and the result is a new model (by default ``MODEL-continued``)
    unless ``force`` replaces MODEL. Word2Vec's and FastText's rows that the saved model has end as the
    mean of their saved and their newly trained values, weighted by ``new_weight`` for the new
    (default: new / (new + old / 2) in tokens; 1 keeps the trained rows). ``init`` (a model or any vector file) starts a new model from
    pretrained vectors (``dim`` defaults to theirs; another is a ``UsageError``). ``state=False`` leaves the training state out of the
    folder (it can then not be continued).

    ``engine="spark"`` reads, tokenizes and trains in Apache Spark (the ``spark`` extra and Java 17+):
    ``corpus`` is then any path Spark reads (``hdfs://``, ``s3a://``, globs), ``master`` its master URL
    (default ``local[*]``, or the one spark-submit set), ``conf`` extra Spark properties,
    ``partitions`` the partitions of the corpus and of MLlib's Word2Vec (``numPartitions``);
    ``progress`` then also gets ``("spark", tasks_done, tasks_total, {"stage": id, "name": ...})``.
    Word2Vec is MLlib's (skip-gram, hierarchical softmax); GloVe counts in Spark and fits here.
    ``spark_logs=True`` leaves Spark's own log on stderr.
    """
    from embcli.corpus import Corpus
    from embcli.open import open_model, resolve
    from embcli.tokenize import TokenizerSettings
    from embcli.training.options import TrainOptions
    from embcli.training.resume import continue_settings, init_start, load_continue
    from embcli.training.run import default_model_name, train_to_folder, train_to_store

    inputs = input_paths(corpus)
    if name is not None and output is not None:
        raise UsageError("give --name or --output, not both")
    if name is not None:
        check_name(name)  # "" too: it was taken as no name
    if output is not None:
        from embcli.folder.atomic import check_folder_target

        check_folder_target(Path(output), True)  # '-', a file, the current folder: refused before any work
    if continue_from is not None and init is not None:
        raise UsageError("give --continue or --init, not both")
    if new_weight is not None and continue_from is None:
        raise UsageError("--new-weight applies to --continue only: leave it out")
    tok = {"mode": tokenizer, "lowercase": lowercase, "min_token_length": min_token_length,
           "pos_filter": pos_filter, "pos_tags": pos_tags}
    store = ModelStore()
    start = expect = None
    if continue_from is not None:
        spec = str(continue_from)
        path = resolve(spec, store)
        given = dict(options, **({} if algo is None else {"algo": algo}))
        try:
            settings, tokenizer_settings = continue_settings(path, spec, given, tok)
        except TypeError as exc:
            raise UsageError(f"unknown training option: {exc}") from None
        settings = settings.resolved()
        start = load_continue(path, spec, new_weight, settings.algo)
        in_store = path.parent.resolve() == store.models_dir.resolve()
        if name is None and output is None:
            if force:
                name, output = (path.name, None) if in_store else (None, path)
            else:
                name = _unused_name(store, f"{path.name}-continued")
                expect = _still_free(store, name)
        replacing = (output is not None and Path(output).resolve() == path.resolve()) or (
            in_store and name == path.name and output is None)
        if replacing:
            expect = _unchanged(path, spec)
    else:
        pretrained = None if init is None else _open_init(str(init), store)
        if pretrained is not None and "dim" not in options:
            options = dict(options, dim=pretrained.dim)  # --init without --dim: the vectors' own
        try:
            settings = TrainOptions(algo=algo or "word2vec", **options)
        except TypeError as exc:
            raise UsageError(f"unknown training option: {exc}") from None
        settings = settings.resolved()
        tokenizer_settings = TokenizerSettings(**{k: v for k, v in tok.items() if v is not None})
        if pretrained is not None:
            start = init_start(pretrained, str(init), settings.dim)
    tokenizer_settings.check_installed()
    from embcli.api.corpora import spark_options

    spark = spark_options(inputs, engine, master, conf, partitions, spark_logs)
    if spark is not None:
        if start is not None:
            raise UsageError("--continue and --init train on the local engine only: leave out --engine spark")
        return _train_spark(inputs, tokenizer_settings, settings, name, output, force, make_default, progress, spark)
    source = Corpus(inputs)
    if output is not None:
        from embcli.api.paths import writing

        with writing(output):
            result = train_to_folder(source, tokenizer_settings, settings, Path(output), force=force,
                                     on_progress=progress, start=start, keep_state=state, expect=expect)
    else:
        name = name or default_model_name(inputs, settings.algo)
        if store.path(name).exists() and not force:
            raise ModelError(f"model {name!r} exists: pass --force to replace it, or --name to choose another")
        result = train_to_store(store, name, source, tokenizer_settings, settings, force=force,
                                make_default=make_default, on_progress=progress, start=start, keep_state=state,
                                expect=expect)
    model = Model(result.path)
    model.trained = result
    return model


def _unchanged(path: Path, spec: str):
    """A check that the model at ``path`` is still the one read now (its ``created``): ``--continue
    --force`` builds on it, and replacing a model that another run replaced meanwhile would lose
    that run's training without a word."""
    from embcli.folder import read_meta

    created = read_meta(path).get("created")

    def check() -> None:
        try:
            now = read_meta(path).get("created")
        except EmbError:
            now = None
        if now != created:
            raise ModelError(f"model {spec!r} was replaced by another run while this one continued it: continue"
                             f" the new {spec!r}, or pass --name to keep this run's result apart")

    return check


def _still_free(store: ModelStore, name: str):
    """A check that ``name``, chosen as unused when the run started, is still unused at its end."""

    def check() -> None:
        if store.path(name).exists():
            raise ModelError(f"model {name!r} was written by another run meanwhile: pass --name to choose a name")

    return check


def _unused_name(store: ModelStore, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... the first that names no model of the store."""
    name, n = base, 1
    while store.path(name).exists():
        n += 1
        name = f"{base}-{n}"
    return name

def _store_target(inputs, algo, name, output, force):
    """The store and the model name (or None, None with ``output``), refusing a name in use."""
    from embcli.training.run import default_model_name

    if output is not None:
        return None, None
    store = ModelStore()
    name = name or default_model_name(inputs, algo)
    if store.path(name).exists() and not force:
        raise ModelError(f"model {name!r} exists: pass --force to replace it, or --name to choose another")
    return store, name


def _train_spark(inputs, tokenizer_settings, settings, name, output, force, make_default, progress,
                 spark_options) -> Model:
    from embcli.spark.run import train_spark

    store, name = _store_target(inputs, settings.algo, name, output, force)
    if output is not None:
        from embcli.api.paths import writing

        with writing(output):
            result = train_spark(inputs, tokenizer_settings, settings, spark_options, target=Path(output), force=force,
                                 on_progress=progress)
    else:
        result = train_spark(inputs, tokenizer_settings, settings, spark_options, store=store, name=name, force=force,
                             make_default=make_default, on_progress=progress)
    model = Model(result.path)
    model.trained = result
    return model


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


def embed_file(inputs, output, model: str | Model | None = None, pooling: str = "mean", format: str | None = None,
               empty: str = "zero", sif_sample: int = 100_000, force: bool = False):
    """Embed every line of text files into one vector file: ``Model.embed_file`` on ``model`` (a name,
    folder, file or ``Model``; None: the default model)."""
    opened = model if isinstance(model, Model) else load(model)
    return opened.embed_file(inputs, output, pooling=pooling, format=format, empty=empty, sif_sample=sif_sample,
                             force=force)


def align(first: str | Model, second: str | Model, words: Sequence[str] | None = None, top: int | None = None,
          neighbors_of: str | None = None, k: int = 30):
    """``Model.align``: two models (names, folders, files or ``Model``) aligned by orthogonal
    Procrustes, and the words that moved most between them."""
    a = first if isinstance(first, Model) else load(first)
    b = second if isinstance(second, Model) else load(second)
    return a.align(b, words, top, neighbors_of, k)


def _paths(value) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [Path(value)]
    return [Path(v) for v in value]


def _open_init(spec: str, store: ModelStore):
    """The model or vector file of ``--init``; a file whose format cannot be told is named with the way
    out (``emb train`` has no --format: the file is imported with one first)."""
    from embcli.errors import FormatError
    from embcli.open import open_model

    try:
        return open_model(spec, store)
    except FormatError as exc:
        if "pass --format" not in str(exc):
            raise
        text, _, fmt = str(exc).partition(": pass --format ")
        choice = fmt.split()[0] if fmt and not fmt.startswith("(") else "FORMAT"
        listed = f" (FORMAT: {fmt.strip('()')})" if choice == "FORMAT" and fmt else ""
        raise FormatError(f"--init {text}: import it first with `emb import {spec} --format {choice} --name NAME`"
                          f"{listed}, then pass --init NAME") from None

