"""The whole training job: tokenize once, train, write the model atomically."""

from __future__ import annotations

import time
from pathlib import Path

from embcli.corpus import Corpus
from embcli.store import ModelStore, atomic_dir, write_model_dir
from embcli.tokenize import TokenizerSettings
from embcli.train.options import ProgressFn, TrainOptions, TrainResult
from embcli.train.prepare import check_vocabulary, prepare_corpus

# Who trains word2vec with negative sampling: emb's own kernels, or "gensim" (tests run both).
WORD2VEC_TRAINER = "emb"


def _train_into(
    folder: Path, corpus: Corpus, tokenizer: TokenizerSettings, options: TrainOptions, on_progress
) -> TrainResult:
    started = time.perf_counter()
    corpus_path = folder / "corpus.tmp"
    prepared = prepare_corpus(corpus, tokenizer, corpus_path, on_progress, workers=options.threads)
    check_vocabulary(prepared.counts, options.min_count)
    tokenized = time.perf_counter()
    ngrams = None
    extra = {}
    if options.algo == "glove":
        from embcli.train.glove import train_glove

        glove = train_glove(prepared, options, folder, on_progress)
        words, vectors, counts, wps = glove.words, glove.vectors, glove.counts, glove.words_per_second
        extra["glove"] = glove.info
    elif options.algo == "fasttext" and options.loss == "ns":
        from embcli.train.fasttext import train_fasttext

        ft = train_fasttext(prepared, options, folder, on_progress)
        words, vectors, counts, ngrams, wps = ft.words, ft.vectors, ft.counts, ft.ngrams, ft.words_per_second
    elif options.algo == "word2vec" and options.loss == "ns" and WORD2VEC_TRAINER == "emb":
        from embcli.train.word2vec import train_word2vec

        w2v = train_word2vec(prepared, options, folder, on_progress)
        words, vectors, counts, wps = w2v.words, w2v.vectors, w2v.counts, w2v.words_per_second
        extra.update(w2v.info)
    else:
        from embcli.train.gensim_trainer import train_gensim

        words, vectors, counts, ngrams, wps = train_gensim(prepared, options, on_progress)
    corpus_path.unlink(missing_ok=True)
    trained = time.perf_counter()
    meta = {
        "algorithm": options.algo,
        "params": options.as_meta(),
        "tokenizer": tokenizer.as_dict(),
        "corpus": prepared.stats.as_dict(),
        "timings": {
            "tokenize_seconds": round(tokenized - started, 3),
            "train_seconds": round(trained - tokenized, 3),
        },
    }
    meta.update(extra)
    if options.algo == "fasttext":
        meta["fasttext"] = {"minn": options.minn, "maxn": options.maxn, "buckets": options.buckets}
    write_model_dir(folder, words, vectors, meta, counts=counts, ngrams=ngrams)
    return TrainResult(
        name=None,
        path=folder,
        algorithm=options.algo,
        vocab_size=len(words),
        dim=options.dim,
        tokens=prepared.stats.tokens,
        lines=prepared.stats.lines,
        replaced_bytes=prepared.stats.replaced_bytes,
        seconds=time.perf_counter() - started,
        tokenize_seconds=tokenized - started,
        train_seconds=trained - tokenized,
        words_per_second=wps,
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
