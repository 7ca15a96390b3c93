"""The whole training job: tokenize once, train, write the model atomically."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from embcli.corpus import Corpus
from embcli.folder import atomic_dir, write_model
from embcli.store import ModelStore
from embcli.tokenize import TokenizerSettings
from embcli.training import find_trainer
from embcli.training.common import check_memory
from embcli.training.options import ProgressFn, TrainOptions, TrainResult
from embcli.training.prepare import check_vocabulary, join_phrases, prepare_corpus


def _train_into(
    folder: Path, corpus: Corpus, tokenizer: TokenizerSettings, options: TrainOptions, on_progress
) -> TrainResult:
    started = time.perf_counter()
    trainer = find_trainer(options)
    check_memory(options, 0)
    corpus_path = folder / "corpus.tmp"
    prepared = prepare_corpus(corpus, tokenizer, corpus_path, on_progress, workers=options.threads)
    tokens_read = prepared.stats.tokens
    phrases = phrase_meta = None
    if options.phrases:
        joining = time.perf_counter()
        phrases = join_phrases(prepared, options.phrase_settings(), options.phrases)
        phrase_meta = {"tokens_before": tokens_read, "tokens_after": prepared.stats.tokens,
                       "found": [len(p) for p in phrases.passes],
                       "seconds": round(time.perf_counter() - joining, 3)}
    kept = check_vocabulary(prepared.counts, options.min_count)
    check_memory(options, min(kept, options.max_vocab or kept))
    tokenized = time.perf_counter()
    work = folder / "work.tmp"
    work.mkdir()
    try:
        trained = trainer.fn()(prepared, options, work, on_progress)
    finally:
        corpus_path.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    done = time.perf_counter()
    corpus_meta = prepared.stats.as_dict()
    corpus_meta["tokens"] = tokens_read
    meta = {
        "algorithm": options.algo,
        "trainer": trainer.name,
        "params": options.as_meta(),
        "tokenizer": tokenizer.as_dict(),
        "corpus": corpus_meta,
        "timings": {
            "tokenize_seconds": round(tokenized - started, 3),
            "train_seconds": round(done - tokenized, 3),
        },
        **trained.meta,
    }
    if phrase_meta is not None:
        meta["phrases"] = phrase_meta
    write_model(folder, trained.words, trained.vectors, meta, counts=trained.counts, ngrams=trained.ngrams,
                phrases=phrases)
    return TrainResult(
        name=None,
        path=folder,
        algorithm=options.algo,
        vocab_size=len(trained.words),
        dim=options.dim,
        tokens=tokens_read,
        lines=prepared.stats.lines,
        replaced_bytes=prepared.stats.replaced_bytes,
        seconds=time.perf_counter() - started,
        tokenize_seconds=tokenized - started,
        train_seconds=done - tokenized,
        words_per_second=trained.words_per_second,
    )


def train_to_folder(
    corpus: Corpus,
    tokenizer: TokenizerSettings,
    options: TrainOptions,
    target: Path,
    force: bool = False,
    on_progress: ProgressFn | None = None,
) -> TrainResult:
    """Train into the folder ``target`` (outside the store), created atomically."""
    options = options.resolved()
    with atomic_dir(Path(target), force=force) as tmp:
        result = _train_into(tmp, corpus, tokenizer, options, on_progress)
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
) -> TrainResult:
    """Train into model ``name`` of ``store``; make it the default unless told not to."""
    options = options.resolved()
    with store.writer(name, force=force) as tmp:
        result = _train_into(tmp, corpus, tokenizer, options, on_progress)
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
        for suffix in (".gz", ".bz2", ".xz", ".zst", ".txt", ".text"):
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
        stem = stem.lstrip(".").replace("*", "").replace("?", "") or "corpus"
    return f"{stem}-{algo}"
