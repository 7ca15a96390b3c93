"""Word2Vec and FastText with hierarchical softmax, through gensim's multi-threaded ``corpus_file`` path.

With negative sampling, Word2Vec and FastText are emb's own trainers (``embcli.training.word2vec``,
``embcli.training.fasttext``), registered before this one; this one still takes Word2Vec with negative
sampling when those are taken out of the registry (the tests compare both).

The vocabulary comes from the counts emb gathered while tokenizing (``build_vocab_from_freq``), so
gensim does not scan the corpus a second time; everything else is gensim's own training.

gensim's ``train`` runs in a thread of its own that, like the threads it starts, blocks SIGINT (and
SIGTERM, SIGHUP: ``errors.ENDING``), so that Ctrl-C always reaches the calling thread, which waits in
short steps (``_run_blocking_sigint``).
Otherwise the kernel may hand the signal to one of gensim's threads, busy in C, and gensim's main
loop, asleep on its progress queue, would notice it only at the end of the epoch: many seconds.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import numpy as np

from embcli.errors import ENDING, TrainingError, raise_if_interrupted
from embcli.training.common import Trained, select_vocabulary
from embcli.training.options import ProgressFn, TrainOptions
from embcli.training.prepare import Prepared


def _model_class(algo: str):
    if algo == "fasttext":
        from gensim.models import FastText

        return FastText
    from gensim.models import Word2Vec

    return Word2Vec


def train_gensim(
    prepared: Prepared, options: TrainOptions, folder: Path, on_progress: ProgressFn | None = None
) -> Trained:
    """Train with gensim on the tokenized corpus file (``folder`` is not needed: gensim keeps all in memory)."""
    opts = options
    kwargs = dict(
        vector_size=opts.dim,
        window=opts.window,
        min_count=1,  # the vocabulary is chosen below, as emb's other trainers choose it
        sg=1 if opts.arch == "skipgram" else 0,
        hs=1 if opts.loss == "hs" else 0,
        negative=opts.negative if opts.loss == "ns" else 0,
        sample=opts.sample,
        ns_exponent=opts.ns_exponent,
        alpha=opts.lr,
        min_alpha=opts.min_lr,
        workers=opts.threads,
        seed=opts.seed,
        epochs=opts.epochs,
    )
    if opts.algo == "fasttext":
        kwargs.update(min_n=opts.minn, max_n=opts.maxn, bucket=opts.buckets)
    model = _model_class(opts.algo)(**kwargs)
    # emb's choice of words (ties by word), not gensim's max_final_vocab, which raises the count
    # threshold past a tie at the cut and so keeps fewer words than --max-vocab.
    words, counts = select_vocabulary(prepared.counts, opts.min_count, opts.max_vocab)
    model.build_vocab_from_freq(dict(zip(words, counts.tolist())), corpus_count=prepared.sentences)
    if opts.loss == "hs" and len(model.wv.index_to_key) < 2:
        # gensim's Huffman tree needs two leaves; with one word it fails deep inside.
        raise TrainingError(
            f"hierarchical softmax needs at least 2 words, and {len(model.wv.index_to_key)} reach --min-count"
            f" {opts.min_count}{'' if opts.max_vocab is None else f' (--max-vocab {opts.max_vocab})'}:"
            " lower --min-count, raise --max-vocab, or use --loss ns"
        )
    total_words = prepared.stats.tokens
    started = time.perf_counter()
    done_words = [0]

    def epoch_end(cur_epoch, example_count, total_examples, raw_word_count, total_words_, trained, elapsed, cf):
        done_words[0] += trained
        if on_progress is not None:
            spent = time.perf_counter() - started
            on_progress(
                "train",
                cur_epoch + 1,
                opts.epochs,
                {"words_per_s": done_words[0] / spent if spent > 0 else 0.0, "epoch_seconds": elapsed},
            )

    # gensim reports progress only at the end of each epoch in corpus_file mode; listen there.
    model._log_epoch_end = epoch_end
    if on_progress is not None:
        on_progress("train", 0, opts.epochs, {"words_per_s": 0.0})
    _run_blocking_sigint(lambda: model.train(
        corpus_file=str(prepared.path),
        total_words=total_words,
        total_examples=prepared.sentences,
        epochs=opts.epochs,
    ))
    spent = time.perf_counter() - started
    wv = model.wv
    # gensim sorts ties in reverse: the rows go back to emb's order (most frequent first, ties by word).
    rows = np.fromiter((wv.key_to_index[w] for w in words), dtype=np.int64, count=len(words))
    ngrams = np.asarray(wv.vectors_ngrams, dtype=np.float32) if opts.algo == "fasttext" else None
    vectors = np.ascontiguousarray(np.asarray(wv.vectors, dtype=np.float32)[rows])
    wps = total_words * opts.epochs / spent if spent > 0 else 0.0
    meta = {"fasttext": {"minn": opts.minn, "maxn": opts.maxn, "buckets": opts.buckets}} if ngrams is not None else {}
    return Trained(words, vectors, counts, wps, ngrams=ngrams, meta=meta)


def _run_blocking_sigint(work) -> None:
    """Run ``work()`` in a thread that blocks SIGINT, SIGTERM and SIGHUP (and so do the threads it
    starts), waiting for it in steps of a quarter second: Ctrl-C raises ``KeyboardInterrupt`` here at
    once, even one that gensim's set-up swallowed (``raise_if_interrupted``). The thread is a daemon:
    on Ctrl-C it is left to end with the process."""
    errors: list[BaseException] = []

    def run() -> None:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, set(ENDING.values()))
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - raised again by the waiting thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="gensim-train", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
        raise_if_interrupted()
    if errors:
        raise errors[0]
