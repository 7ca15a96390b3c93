"""FastText (skip-gram and CBOW, negative sampling) trained by emb's own numba kernels.

The algorithm is Facebook fastText's (see ``kernels``), including its end-of-line token ``</s>``,
which is trained as a word (it ends every line and is subsampled like the others) but not kept in
the saved vocabulary. The tokenized corpus is converted once into a temporary file of int32 word
ids (rare words dropped, ``</s>`` at line ends), which the threads stream in chunks: thread t reads
the t-th slice of the file over and over, and all threads update the shared matrices without locks,
until together they have read fastText's budget of tokens (``--epochs`` times every token and line
end of the corpus, rare words included). With ``--threads 1`` a seed gives the same model every time.

The input matrix holds the word rows, the ``</s>`` row and then the n-gram buckets, hashed the way
``embcli.subwords`` hashes them, so the bucket matrix saved with the model gives out-of-vocabulary
words the vectors fastText would give them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from embcli.training.common import Trained, load_id_kernels, write_ids
from embcli.training.hogwild import stream_threads
from embcli.training.options import ProgressFn, TrainOptions
from embcli.training.prepare import Prepared
from embcli.training.resident import release_compiler_pages
from embcli.training.resume import Start, blend, settle_vocabulary

# fastText's Dictionary::getLine stops after this many tokens, and its table of negatives.
MAX_LINE = 1024
NEGATIVE_TABLE = 10_000_000
EOS = "</s>"


def subword_rows(words: list[str], minn: int, maxn: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Input rows of each word and of ``</s>`` (id len(words)): its own row, then its n-gram rows.

    Bucket b is row len(words) + 1 + b. Returns CSR offsets (int64) and rows (int32).
    """
    from embcli.subword_kernels import ngram_buckets_block

    vocab = len(words)
    grams, lengths = ngram_buckets_block(words, minn, maxn, buckets)
    sizes = np.append(lengths + 1, 1)
    offsets = np.zeros(vocab + 2, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    rows = np.empty(int(offsets[-1]), dtype=np.int64)
    rows[offsets[:-1]] = np.arange(vocab + 1)
    mask = np.ones(rows.shape[0], dtype=bool)
    mask[offsets[:-1]] = False
    rows[mask] = grams + vocab + 1
    return offsets, rows.astype(np.int32)


def sampling_tables(counts: np.ndarray, lines: int, tokens: int, options: TrainOptions):
    """fastText's keep probabilities (of the words and ``</s>``) and its table of negatives.

    Frequencies are over every token of the corpus and every line end, as fastText counts them; a
    word is kept with probability sqrt(t / f) + t / f (always without sampling).
    """
    from embcli.training.fasttext import kernels

    all_counts = np.append(counts, lines).astype(np.float64)
    if options.sample > 0:
        f = all_counts / float(tokens + lines)
        keep = (np.sqrt(options.sample / f) + options.sample / f).astype(np.float32)
    else:
        keep = np.ones(len(all_counts), dtype=np.float32)
    weights = all_counts**options.ns_exponent
    return keep, kernels.negative_table(weights, NEGATIVE_TABLE)


def _run_threads(ids_path: Path, n_ids: int, budget: int, wi, wo, sub_off, sub_rows, keep, negs,
                 options: TrainOptions, on_progress: ProgressFn | None) -> None:
    """Train until the threads have read ``budget`` ids; thread t streams the t-th slice of the id file.

    As in fastText, a thread reads its slice chunk by chunk, starting over at its end, until every
    thread's count together reaches the budget; the learning rate follows every thread's progress,
    as fastText's shared count does.
    """
    from embcli.training.fasttext import kernels

    opts = options
    eos = wo.shape[0] - 1
    # Made once here, not in every call on a chunk: the logistic table and the most rows of a word.
    sigmoid = kernels.sigmoid_table()
    most = int(np.diff(sub_off).max())
    rng = np.random.SeedSequence(opts.seed).generate_state(opts.threads, dtype=np.uint64)
    total = float(budget)

    def step(buf, before, t):
        return kernels.train_span(
            buf, wi, wo, sub_off, sub_rows, keep, negs, sigmoid, most, eos, opts.arch == "cbow",
            opts.window, opts.negative, MAX_LINE, opts.lr, opts.min_lr, before, total, rng, t,
        )

    stream_threads(ids_path, n_ids, opts.threads, opts.epochs, total, step, on_progress, passes=False)


def _load_kernels(sub_off, sub_rows, keep, negs, options: TrainOptions) -> None:
    """Load every kernel the training runs from here on, by calls on empty arrays that change nothing
    (the n-gram hashing and the negatives' table are loaded by now: they have run)."""
    from embcli.training.fasttext import kernels

    load_id_kernels()
    nothing = np.empty((0, options.dim), dtype=np.float32)
    kernels.init_uniform(nothing, 1.0, 0)
    rng = np.zeros(1, dtype=np.uint64)
    kernels.train_span(
        np.empty(0, dtype=np.int32), nothing, nothing, sub_off, sub_rows, keep, negs, kernels.sigmoid_table(), 1, 0,
        options.arch == "cbow", options.window, options.negative, MAX_LINE, options.lr, options.min_lr, 0.0, 1.0,
        rng, 0,
    )
    kernels.word_vectors(nothing, sub_off, sub_rows, 0, nothing)


def train_fasttext(
    prepared: Prepared, options: TrainOptions, folder: Path, on_progress: ProgressFn | None = None,
    start: Start | None = None,
) -> Trained:
    """Train FastText on the tokenized corpus; temporary files go in ``folder`` and are removed.

    The tokenized text file is deleted once converted to word ids. The end-of-line token ``</s>`` is
    a word of every line, as in fastText. With ``start`` (``resume``), the vocabulary and the rows of
    known words come from a saved model, the n-gram rows too when it is continued, and frequencies
    count its text as well. The state returned holds the word and ``</s>`` input rows (before
    composing) and the output rows.
    """
    from embcli.training.fasttext import kernels

    opts = options
    started = time.perf_counter()
    words, counts, rare = settle_vocabulary(prepared.counts, opts, start)
    vocab = len(words)
    ids_path = Path(folder) / "corpus.ids"
    sub_off, sub_rows = subword_rows(words, opts.minn, opts.maxn, opts.buckets)
    old = start is not None and not start.pretrained
    lines = prepared.sentences + (start.lines if old else 0)
    keep, negs = sampling_tables(counts, lines, prepared.stats.tokens + (start.tokens if old else 0), opts)
    _load_kernels(sub_off, sub_rows, keep, negs, opts)
    release_compiler_pages()
    try:
        n_ids = write_ids(prepared.path, words, ids_path)
        prepared.path.unlink(missing_ok=True)
        # Input rows: words, </s>, n-gram buckets; uniform in [-1/dim, 1/dim]. Output rows start at 0.
        wi = np.empty((vocab + 1 + opts.buckets, opts.dim), dtype=np.float32)
        kernels.init_uniform(wi, 1.0 / opts.dim, opts.seed)
        wo = np.zeros((vocab + 1, opts.dim), dtype=np.float32)
        if start is not None:
            start.fill("input", wi[:vocab])
        if old:
            start.fill("output", wo[:vocab])
            wi[vocab] = start.extra_row("input")
            wo[vocab] = start.extra_row("output")
            wi[vocab + 1 :] = start.arrays["ngrams"]
        # fastText counts an epoch as every token of the corpus and every line end, rare words
        # included, though it reads only the others: the words kept are read a little more often.
        if old:
            weight = start.new_weight(prepared.stats.tokens)

        def run(o: TrainOptions, progress: ProgressFn | None) -> None:
            budget = o.epochs * (prepared.stats.tokens + prepared.sentences)
            _run_threads(ids_path, n_ids, budget, wi, wo, sub_off, sub_rows, keep, negs, o, progress)

        run(opts, start.train_progress(opts, on_progress) if old else on_progress)
        if old:
            start.average("input", wi, weight, extra=1)
            start.average("output", wo, weight, extra=1)
            blend(wi[vocab + 1 :], start.arrays["ngrams"], weight)
            if start.heals():
                run(*start.heal(opts, on_progress))
    finally:
        ids_path.unlink(missing_ok=True)
    vectors = np.empty((vocab, opts.dim), dtype=np.float32)
    kernels.word_vectors(wi, sub_off, sub_rows, vocab, vectors)
    spent = time.perf_counter() - started
    wps = prepared.stats.tokens * opts.epochs / spent if spent > 0 else 0.0
    info = {"minn": opts.minn, "maxn": opts.maxn, "buckets": opts.buckets}
    state = {"input": wi[: vocab + 1], "output": wo, **rare}
    return Trained(words, vectors, counts, wps, ngrams=wi[vocab + 1 :], meta={"fasttext": info}, state=state)
