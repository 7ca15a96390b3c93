"""The whole training job: tokenize once, train, write the model atomically."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from embcli.corpus import Corpus
from embcli.errors import TrainingError, UsageError
from embcli.folder import all_finite, atomic_dir, write_model
from embcli.store import ModelStore
from embcli.tokenize import TokenizerSettings
from embcli.training import find_trainer
from embcli.training.common import check_memory
from embcli.training.options import ProgressFn, TrainOptions, TrainResult
from embcli.training.prepare import apply_phrases, check_vocabulary, join_phrases, prepare_corpus
from embcli.training.resume import Start


def _train_into(
    folder: Path, corpus: Corpus, tokenizer: TokenizerSettings, options: TrainOptions, on_progress,
    start: Start | None = None, keep_state: bool = True,
) -> TrainResult:
    started = time.perf_counter()
    trainer = find_trainer(options)
    if start is not None and trainer.name == "gensim":
        flag = "--init" if start.pretrained else "--continue"
        raise UsageError(f"{flag} needs emb's own trainers: use --loss ns (the gensim trainer of --loss hs cannot)")
    if start is not None and not start.pretrained and options.phrases:
        raise UsageError("--phrases with --continue: a model keeps the phrases it was trained with, and they"
                         " join the new text too; leave --phrases out")
    check_memory(options, 0)
    corpus_path = folder / "corpus.tmp"
    prepared = prepare_corpus(corpus, tokenizer, corpus_path, on_progress, workers=options.threads)
    tokens_read = prepared.stats.tokens
    continuing = start is not None and not start.pretrained
    phrases = phrase_meta = None
    joining = time.perf_counter()
    if continuing and start.phrases is not None:
        phrases = start.phrases  # the new text is joined as the saved model's was
        apply_phrases(prepared, phrases)
    elif options.phrases:
        phrases = join_phrases(prepared, options.phrase_settings(), options.phrases)
    if phrases is not None:
        phrase_meta = {"tokens_before": tokens_read, "tokens_after": prepared.stats.tokens,
                       "found": [len(p) for p in phrases.passes],
                       "seconds": round(time.perf_counter() - joining, 3)}
    if continuing and prepared.stats.tokens == 0:
        raise TrainingError("the new text holds no words: there is nothing to continue training on")
    kept = len(start.saved_words) if continuing else check_vocabulary(prepared.counts, options.min_count)
    check_memory(options, min(kept, options.max_vocab or kept))
    tokenized = time.perf_counter()
    work = folder / "work.tmp"
    work.mkdir()
    try:
        extra = {} if start is None else {"start": start}
        trained = trainer.fn()(prepared, options, work, on_progress, **extra)
    finally:
        corpus_path.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    check_finite(trained, options)
    state = None
    if keep_state and trained.state:
        state = trained.state
        # The text seen so far (FastText's frequencies count it when the model is continued).
        state_meta = {
            "tokens": prepared.stats.tokens + (start.tokens if continuing else 0),
            "lines": prepared.sentences + (start.lines if continuing else 0),
        }
    extra = {} if start is None else start.meta()
    if state is not None:
        extra["state"] = state_meta
    if phrase_meta is not None:
        extra["phrases"] = phrase_meta
        prepared.stats.tokens = tokens_read  # the corpus summary counts the tokens read
    result = finish_model(folder, trainer, options, tokenizer, prepared.stats, trained, started, tokenized, extra,
                          state=state, phrases=phrases)
    if start is not None:
        result.warnings.extend(start.notes)
        if start.pretrained and start.source is not None and not (start.source >= 0).any():
            result.warnings.append(f"none of the corpus's words is in --init {start.model}: every vector started"
                                   " fresh, as without --init")
    return result


def check_finite(trained, options: TrainOptions) -> None:
    """A training that diverged (too high a learning rate) is named as such, with the fix, before the
    folder writer finds its first NaN."""
    if not all_finite(trained.vectors):
        raise TrainingError(f"training diverged (the vectors hold NaN or infinite values): lower --lr"
                            f" (now {options.lr:g})")


def finish_model(folder: Path, trainer, options: TrainOptions, tokenizer: TokenizerSettings, stats, trained,
                 started: float, tokenized: float, extra_meta: dict | None = None,
                 state: dict | None = None, phrases=None) -> TrainResult:
    """Write a trained model into ``folder`` (the one metadata policy of every engine) and report it;
    ``state`` is the training state to keep (``embcli.folder.layout.STATE_FILES``), if any, and
    ``phrases`` the ``PhraseTable`` of ``--phrases``."""
    done = time.perf_counter()
    meta = {
        "algorithm": options.algo,
        "trainer": trainer.name,
        "params": options.as_meta(),
        "tokenizer": tokenizer.as_dict(),
        "corpus": stats.as_dict(),
        "timings": {
            "tokenize_seconds": round(tokenized - started, 3),
            "train_seconds": round(done - tokenized, 3),
        },
        **trained.meta,
        **(extra_meta or {}),
    }
    write_model(folder, trained.words, trained.vectors, meta, counts=trained.counts, ngrams=trained.ngrams,
                state=state, phrases=phrases)
    return TrainResult(
        name=None,
        path=folder,
        algorithm=options.algo,
        vocab_size=len(trained.words),
        dim=options.dim,
        tokens=stats.tokens,
        lines=stats.lines,
        replaced_bytes=stats.replaced_bytes,
        seconds=time.perf_counter() - started,
        tokenize_seconds=tokenized - started,
        train_seconds=done - tokenized,
        words_per_second=trained.words_per_second,
    )


def _run_job(job, folder, corpus, tokenizer, options, on_progress, start, keep_state) -> TrainResult:
    if job is None:
        try:
            return _train_into(folder, corpus, tokenizer, options, on_progress, start, keep_state)
        except MemoryError:
            # Past the checks of the matrices' size: a limit they cannot see, or the other structures.
            knobs = "--dim, --buckets or --max-vocab" if options.algo == "fasttext" else "--dim or --max-vocab"
            raise TrainingError(f"training ran out of memory (dim {options.dim}): lower {knobs}"
                                f"{', or --memory' if options.algo == 'glove' else ''}") from None
    if start is not None:
        raise UsageError("--continue and --init train on the local engine only")
    if options.phrases:
        raise UsageError("--phrases trains on the local engine only: join phrases with emb phrases first")
    return job(folder, corpus, tokenizer, options, on_progress)


def train_to_folder(
    corpus: Corpus,
    tokenizer: TokenizerSettings,
    options: TrainOptions,
    target: Path,
    force: bool = False,
    on_progress: ProgressFn | None = None,
    start: Start | None = None,
    keep_state: bool = True,
    job=None,
    expect=None,
) -> TrainResult:
    """Train into the folder ``target`` (outside the store), created atomically; ``start``,
    ``keep_state``, ``job`` and ``expect`` as in ``train_to_store``."""
    options = options.resolved()
    with atomic_dir(Path(target), force=force, expect=expect) as tmp:
        result = _run_job(job, tmp, corpus, tokenizer, options, on_progress, start, keep_state)
    result.path = Path(target)
    return result


def train_to_store(
    store: ModelStore,
    name: str,
    corpus: Corpus,
    tokenizer: TokenizerSettings,
    options: TrainOptions,
    force: bool = False,
    make_default: bool = True,
    on_progress: ProgressFn | None = None,
    start: Start | None = None,
    keep_state: bool = True,
    job=None,
    expect=None,
) -> TrainResult:
    """Train into model ``name`` of ``store``; make it the default unless told not to.

    ``start`` (``resume.load_continue`` / ``resume.init_start``) starts from a saved model or
    pretrained vectors; ``keep_state=False`` leaves the training state out of the folder.
    ``job(folder, corpus, tokenizer, options, on_progress) -> TrainResult`` trains into the temporary
    folder: the local engine's by default (another engine passes its own, ``embcli.spark.run``).
    ``expect()`` is called under the store's lock before the result is moved into place, and may
    refuse it by raising (``--continue`` of a model that another run replaced meanwhile).
    """
    options = options.resolved()
    with store.writer(name, force=force, expect=expect) as tmp:
        result = _run_job(job, tmp, corpus, tokenizer, options, on_progress, start, keep_state)
    result.name = name
    result.path = store.path(name)
    if make_default:
        store.set_default(name)
        result.default = True
    return result


def default_model_name(inputs: list[str], algo: str) -> str:
    """A model name from the first input's file name and the algorithm: ``web-word2vec``."""
    first = next((i for i in inputs if i != "-"), None)
    if first is None:
        stem = "stdin"
    else:
        stem = Path(first.rstrip("/")).name or "corpus"
        # A glob's wildcards go first ('*.txt*' is then '.txt', which loses its suffix below).
        stem = re.sub(r"[*?\[\]]", "", stem)
        for suffix in (".gz", ".bz2", ".xz", ".zst", ".txt", ".text"):
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
        stem = stem.strip(". ")
        if stem in ("", "txt", "text") or set(stem) <= {".", "_", "-"}:
            stem = "corpus"
    return f"{stem}-{algo}"
