"""GloVe: co-occurrence counting (exact, spilled, bounded), the solver, determinism, cleanup."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from embcli.corpus import Corpus
from embcli.errors import TrainingError, UsageError
from embcli.store import ModelStore
from embcli.tokenize import TokenizerSettings
from embcli.training.options import TrainOptions
from embcli.training.run import train_to_folder, train_to_store
from embcli.training.common import select_vocabulary
from embcli.training.glove import fit, init_params, train_glove
from embcli.training.glove import kernels
from embcli.training.glove.cooccur import count_cooccurrences, dense_layout, minimum_memory
from embcli.training.options import parse_memory
from embcli.training.prepare import prepare_corpus


def prepare(tmp_path: Path, lines: list[str], name="corpus.tmp", mode="unicode"):
    src = tmp_path / f"{name}.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return prepare_corpus(Corpus([str(src)]), TokenizerSettings(mode=mode), tmp_path / name)


def reference_counts(path: Path, vocab: dict[str, int], window: int) -> dict[tuple[int, int], float]:
    """Stanford's symmetric 1/d counting written plainly: X[i, j] for every ordered pair."""
    x: dict[tuple[int, int], float] = defaultdict(float)
    for line in path.read_text(encoding="utf-8").splitlines():
        ids = [vocab[w] for w in line.split() if w in vocab]
        for p, w2 in enumerate(ids):
            for q in range(max(0, p - window), p):
                w1 = ids[q]
                x[(w2, w1)] += 1.0 / (p - q)
                x[(w1, w2)] += 1.0 / (p - q)
    return x


def entries_as_dict(co) -> dict[tuple[int, int], float]:
    """The counted entries as {(a, b): x}; each ordered pair must be one record, and X symmetric."""
    pairs, xs = co.open()
    out: dict[tuple[int, int], float] = {}
    for (a, b), x in zip(np.asarray(pairs).tolist(), np.asarray(xs).tolist()):
        assert (a, b) not in out
        out[(a, b)] = x
    assert all(out[(b, a)] == x for (a, b), x in out.items())
    return out


def count(tmp_path, prepared, words, window=10, memory=2.0, sub="work"):
    work = tmp_path / sub
    work.mkdir()
    return count_cooccurrences(prepared.path, words, prepared.counts.keys(), window, memory, work, prepared.stats.tokens)


@pytest.fixture
def verses(tmp_path, web_lines):
    prepared = prepare(tmp_path, web_lines[:600])
    words, _ = select_vocabulary(prepared.counts, 3, None)
    return prepared, words


def test_counts_match_stanford_weighting(tmp_path, verses):
    prepared, words = verses
    co = count(tmp_path, prepared, words, window=5)
    got = entries_as_dict(co)
    want = reference_counts(prepared.path, {w: i for i, w in enumerate(words)}, 5)
    assert co.runs == 0 and co.dense_entries > 0
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-6)


def test_window_stops_at_line_ends_and_skips_rare_words(tmp_path):
    prepared = prepare(tmp_path, ["a b rare c", "c a", "b"], mode="whitespace")
    words = ["a", "b", "c"]
    got = entries_as_dict(count(tmp_path, prepared, words, window=2))
    # "rare" is dropped before the window: a-b at 1, b-c at 1, a-c at 2 on line 1; c-a at 1 on line 2.
    assert got == {(0, 1): 1.0, (1, 0): 1.0, (1, 2): 1.0, (2, 1): 1.0, (0, 2): 1.5, (2, 0): 1.5}
    # A word next to itself counts for both orders of the pair, as Stanford's symmetric window does.
    prepared = prepare(tmp_path, ["a a"], name="self", mode="whitespace")
    assert entries_as_dict(count(tmp_path, prepared, ["a"], window=2, sub="w2")) == {(0, 0): 2.0}


def test_spilled_runs_give_the_same_counts(tmp_path, verses):
    prepared, words = verses
    whole = entries_as_dict(count(tmp_path, prepared, words, window=10, sub="whole"))
    small = minimum_memory(len(words), 10) / 1e9
    co = count(tmp_path, prepared, words, window=10, memory=small, sub="spill")
    assert co.runs >= 2
    got = entries_as_dict(co)
    assert got.keys() == whole.keys()
    for key, value in whole.items():
        assert got[key] == pytest.approx(value, rel=1e-6)
    # The merged runs are gone; only the two entry files stay for the solver.
    assert sorted(p.name for p in (tmp_path / "spill").iterdir()) == ["pairs.bin", "x.bin"]


def test_memory_does_not_grow_with_the_corpus(tmp_path, web_lines):
    one = prepare(tmp_path, web_lines[:800], name="one")
    three = prepare(tmp_path, web_lines[:800] * 3, name="three")
    words, _ = select_vocabulary(one.counts, 3, None)
    memory = minimum_memory(len(words), 10) / 1e9
    a = count(tmp_path, one, words, memory=memory, sub="a")
    b = count(tmp_path, three, words, memory=memory, sub="b")
    # Same dense block and hash table for three times the text; the extra text goes to more runs.
    assert (a.dense_entries, a.table_slots) == (b.dense_entries, b.table_slots)
    assert b.runs > a.runs
    assert a.entries == b.entries


def test_too_little_memory_names_the_smallest_that_works(tmp_path, verses):
    prepared, words = verses
    with pytest.raises(UsageError) as err:
        count(tmp_path, prepared, words, memory=0.001, sub="tiny")
    message = str(err.value)
    assert f"{len(words):,} words" in message
    suggested = message.split("use --memory ")[1].split()[0]
    assert parse_memory(suggested) * 1e9 >= minimum_memory(len(words), 10)
    assert count(tmp_path, prepared, words, memory=parse_memory(suggested), sub="ok").entries > 0


@pytest.mark.parametrize(
    "text, gb", [("2", 2.0), ("2G", 2.0), ("1.5GB", 1.5), ("512M", 0.512), ("300mb", 0.3), ("64K", 64e-6), (3, 3.0)]
)
def test_parse_memory(text, gb):
    assert parse_memory(text) == pytest.approx(gb)


@pytest.mark.parametrize("text", ["", "lots", "G", "-1G", "0", "nan", "inf"])
def test_parse_memory_refuses_nonsense(text):
    with pytest.raises(UsageError, match="--memory"):
        parse_memory(text)


def test_dense_layout_fits_its_budget():
    offs, lens = dense_layout(1000, 50_000)
    assert 0 < lens.sum() <= 50_000
    assert np.all(np.diff(lens) <= 0) and np.all(lens > 0)
    assert np.array_equal(offs[1:], np.cumsum(lens)[:-1])
    offs, lens = dense_layout(10, 10**6)
    assert lens.tolist() == list(range(10, 0, -1))


def test_glove_defaults_follow_stanford():
    opts = TrainOptions(algo="glove").resolved()
    assert (opts.window, opts.epochs, opts.lr, opts.x_max, opts.alpha, opts.memory) == (10, 15, 0.05, 100.0, 0.75, 2.0)
    meta = opts.as_meta()
    assert {"x_max", "alpha", "memory"} <= meta.keys() and "negative" not in meta
    assert "x_max" not in TrainOptions().resolved().as_meta()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"x_max": 0}, "--x-max"),
        ({"x_max": float("nan")}, "--x-max"),
        ({"alpha": 0}, "--alpha"),
        ({"alpha": -1}, "--alpha"),
        ({"memory": "0"}, "--memory"),
        ({"memory": "much"}, "--memory"),
        ({"lr": float("inf")}, "--lr"),
        ({"dim": 0}, "--dim"),
        ({"window": 0}, "--window"),
        ({"epochs": 0}, "--epochs"),
    ],
)
def test_glove_options_are_checked(kwargs, match):
    with pytest.raises(UsageError, match=match):
        TrainOptions(algo="glove", **kwargs).resolved()


def glove_options(**kw) -> TrainOptions:
    base = dict(algo="glove", dim=16, epochs=4, x_max=10.0, min_count=3, threads=1, seed=3)
    base.update(kw)
    return TrainOptions(**base).resolved()


def test_cost_per_epoch_reaches_the_progress_callback(tmp_path, verses):
    prepared, _ = verses
    calls = []
    result = train_glove(prepared, glove_options(epochs=5), tmp_path, lambda *a: calls.append(a))
    train = [c for c in calls if c[0] == "train"]
    assert [c[1] for c in train] == [0, 1, 2, 3, 4, 5] and all(c[2] == 5 for c in train)
    costs = [c[3]["cost"] for c in train[1:]]
    assert all(np.isfinite(costs)) and costs[-1] < costs[0]
    assert result.meta["glove"]["costs"] == [round(c, 6) for c in costs]
    assert result.vectors.shape == (len(result.words), 16) and result.vectors.dtype == np.float32
    # Everything temporary is gone, the tokenized corpus included.
    assert list(tmp_path.glob("glove.tmp")) == [] and not prepared.path.exists()


def test_saved_vectors_are_word_plus_context(tmp_path, web_lines):
    opts = glove_options()
    one = prepare(tmp_path, web_lines[:500], name="one")
    result = train_glove(one, opts, tmp_path)
    # The same steps by hand: count, shuffle, fit; then compare with W + C.
    two = prepare(tmp_path, web_lines[:500], name="two")
    words, _ = select_vocabulary(two.counts, opts.min_count, None)
    co = count(tmp_path, two, words, window=opts.window)
    pairs, xs = co.open()
    kernels.shuffle_entries(pairs, xs, opts.seed)
    params = init_params(len(words), opts.dim, opts.seed)
    fit(pairs, xs, params, len(words), opts, None, two.stats.tokens)
    v = len(words)
    assert result.words == words
    assert np.array_equal(result.vectors, params[:v, : opts.dim] + params[v:, : opts.dim])
    assert not np.array_equal(result.vectors, params[:v, : opts.dim])


def test_seed_and_one_thread_give_identical_vectors(tmp_path, small_corpus):
    opts = glove_options(threads=1, seed=7)
    runs = [
        train_to_folder(Corpus([str(small_corpus)]), TokenizerSettings(), opts, tmp_path / f"m{i}")
        for i in range(2)
    ]
    a, b = (np.load(r.path / "vectors.npy") for r in runs)
    assert np.array_equal(a, b)
    other = train_to_folder(
        Corpus([str(small_corpus)]), TokenizerSettings(), glove_options(threads=1, seed=8), tmp_path / "m2"
    )
    assert not np.array_equal(a, np.load(other.path / "vectors.npy"))


def test_all_shards_work_in_parallel():
    rng = np.random.default_rng(0)
    n, vocab, dim = 20_000, 300, 8
    pairs = rng.integers(0, vocab, (n, 2)).astype(np.int32)
    xs = rng.uniform(0.1, 30, n).astype(np.float32)
    params = init_params(vocab, dim, 1)
    before = params.copy()
    costs, updates = np.zeros(4), np.zeros(4, dtype=np.int64)
    order = np.random.default_rng(1).permutation(20)
    kernels.train_epoch(pairs, xs, params, vocab, dim, 10.0, 0.75, 0.05, order, 1000, 4, costs, updates)
    assert np.all(updates > 0) and np.all(costs > 0)
    assert updates.sum() == n
    assert not np.array_equal(params, before) and np.isfinite(params).all()


def stanford_step(W, G, l1, l2, x, dim, x_max=10.0, alpha=0.75, eta=0.05, clip=100.0):
    """One update of Stanford's current glove.c, in float64: clipped, eta-scaled vector steps, biases without eta."""
    diff = W[l1, :dim] @ W[l2, :dim] + W[l1, dim] + W[l2, dim] - np.log(x)
    fdiff = diff if x > x_max else (x / x_max) ** alpha * diff
    t1 = np.clip(fdiff * W[l2, :dim], -clip, clip) * eta
    t2 = np.clip(fdiff * W[l1, :dim], -clip, clip) * eta
    W[l1, :dim] -= t1 / np.sqrt(G[l1, :dim])
    W[l2, :dim] -= t2 / np.sqrt(G[l2, :dim])
    G[l1, :dim] += t1 * t1
    G[l2, :dim] += t2 * t2
    W[l1, dim] -= fdiff / np.sqrt(G[l1, dim])
    W[l2, dim] -= fdiff / np.sqrt(G[l2, dim])
    G[l1, dim] += fdiff * fdiff
    G[l2, dim] += fdiff * fdiff


def test_one_epoch_follows_stanfords_update():
    rng = np.random.default_rng(3)
    vocab, dim, n = 40, 6, 300
    pairs = rng.integers(0, vocab, (n, 2)).astype(np.int32)
    # Counts on both sides of x_max, from rare pairs to frequent ones.
    xs = rng.choice([0.2, 1.0, 3.5, 9.0, 40.0, 800.0], n).astype(np.float32)
    params = init_params(vocab, dim, 5)
    half = params.shape[1] // 2
    W = params[:, : dim + 1].astype(np.float64)
    G = 1.0 + params[:, half : half + dim + 1].astype(np.float64)
    for (p, q), x in zip(pairs.tolist(), xs.tolist()):
        stanford_step(W, G, p, vocab + q, x, dim)
    costs, updates = np.zeros(1), np.zeros(1, dtype=np.int64)
    order = np.arange(-(-n // 64))
    kernels.train_epoch(pairs, xs, params, vocab, dim, 10.0, 0.75, 0.05, order, 64, 1, costs, updates)
    assert np.allclose(params[:, : dim + 1], W, rtol=1e-4, atol=1e-6)
    assert np.allclose(1.0 + params[:, half : half + dim + 1], G, rtol=1e-4)
    # The biases moved by whole AdaGrad steps (no eta): far more than the vector entries did.
    assert np.abs(W[:, dim]).max() > 0.5


def test_more_threads_than_cores(tmp_path, small_corpus):
    result = train_to_folder(
        Corpus([str(small_corpus)]), TokenizerSettings(), glove_options(threads=7, epochs=2), tmp_path / "m"
    )
    assert np.isfinite(np.load(result.path / "vectors.npy")).all()


def test_kernels_are_cached_on_disk():
    for kernel in (kernels.count_pairs, kernels.compact_table, kernels.merge_runs, kernels.shuffle_entries,
                   kernels.train_epoch):
        assert type(kernel._cache).__name__ != "NullCache", kernel


def test_vectors_learn_something(tmp_path, small_corpus):
    opts = glove_options(dim=30, epochs=15, threads=1)
    result = train_to_folder(Corpus([str(small_corpus)]), TokenizerSettings(), opts, tmp_path / "m")
    words = (result.path / "vocab.txt").read_text(encoding="utf-8").split()
    vec = np.load(result.path / "vectors.npy")
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    idx = {w: i for i, w in enumerate(words)}

    def sim(x, y):
        return float(vec[idx[x]] @ vec[idx[y]])

    # Genesis and Exodus: family words sit closer together than to unrelated words.
    assert sim("father", "mother") > sim("father", "water")
    assert sim("son", "daughter") > sim("son", "cattle")


def test_model_in_store_with_metadata(small_corpus):
    store = ModelStore()
    result = train_to_store(store, "g", Corpus([str(small_corpus)]), TokenizerSettings(), glove_options(memory="40M"))
    meta = __import__("json").loads((store.path("g") / "meta.json").read_text())
    assert meta["algorithm"] == "glove" and meta["params"]["x_max"] == 10.0 and meta["params"]["memory"] == 0.04
    assert meta["glove"]["entries"] > 0 and len(meta["glove"]["costs"]) == 4
    assert sorted(p.name for p in store.path("g").iterdir()) == sorted(
        ["meta.json", "vocab.txt", "vectors.npy", "norms.npy", "counts.npy", "state"]
    )
    counts = np.load(store.path("g") / "counts.npy")
    assert np.all(np.diff(counts) <= 0) and counts[-1] >= 3
    assert result.vocab_size == len(counts) and store.default_name() == "g"


def left_behind(store: ModelStore) -> list[str]:
    return sorted(p.name for p in store.models_dir.iterdir()) if store.models_dir.exists() else []


@pytest.mark.parametrize("error", [KeyboardInterrupt, TrainingError])
@pytest.mark.parametrize("memory", ["2G", "37M"])
def test_interrupt_or_failure_leaves_nothing(small_corpus, error, memory):
    store = ModelStore()
    train_to_store(store, "keep", Corpus([str(small_corpus)]), TokenizerSettings(), glove_options(epochs=1))

    def stop(stage, done, total, info):
        if stage == "train" and done == 2:
            raise error("stop")

    with pytest.raises(error):
        train_to_store(
            store, "new", Corpus([str(small_corpus)]), TokenizerSettings(), glove_options(memory=memory),
            on_progress=stop,
        )
    assert left_behind(store) == ["keep"] and store.default_name() == "keep"


def test_one_word_lines_leave_nothing_to_fit(tmp_path):
    src = tmp_path / "words.txt"
    src.write_text("alpha\nbeta\n" * 20, encoding="utf-8")
    with pytest.raises(TrainingError, match="nothing to fit"):
        train_to_folder(Corpus([str(src)]), TokenizerSettings(), glove_options(), tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.txt"]


def test_a_window_wider_than_the_smallest_table_still_counts(tmp_path):
    words = [f"w{i}" for i in range(200)]
    prepared = prepare(tmp_path, [" ".join(words)] * 5, mode="whitespace")
    window = 5000
    co = count(tmp_path, prepared, words, window=window, memory=minimum_memory(len(words), window) / 1e9)
    got = entries_as_dict(co)
    assert co.dense_entries < 200 * 201 // 2
    assert got[(0, 199)] == pytest.approx(5 / 199) and len(got) == 200 * 199


def test_the_table_grows_before_it_spills(tmp_path, verses, monkeypatch):
    from embcli.training.glove import cooccur

    prepared, words = verses
    whole = entries_as_dict(count(tmp_path, prepared, words, window=10, sub="whole"))
    monkeypatch.setattr(cooccur, "START_SLOTS", 1 << 12)
    monkeypatch.setattr(cooccur, "DENSE_SHARE", 0.0)
    co = count(tmp_path, prepared, words, window=10, sub="grown")
    assert co.runs == 0 and co.dense_entries == 0 and co.table_slots > 1 << 13
    got = entries_as_dict(co)
    assert got.keys() == whole.keys()
    assert all(got[k] == pytest.approx(v, rel=1e-6) for k, v in whole.items())
