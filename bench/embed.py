"""Benchmark: ``emb embed`` against a Python loop over gensim's ``get_mean_vector``, and ``emb search``.

Builds (once, into ``--cache``) a model whose vocabulary is every word of the sample corpus plus
made-up words up to ``--words`` (random 300-dimensional vectors, counts from the corpus), and text
files of 20-token lines cut from the sample corpus at random places (real punctuation, curly quotes
and all). Then measures, with the page cache warm:

1. ``emb embed LINES -f npy -o FILE`` as a process (mean pooling), in lines a second, against
   gensim: ``kv.get_mean_vector(tokens)`` in a Python loop over the same lines, tokenized by emb's
   own tokenizer (the same words) and by ``str.split`` (less work than a real tokenizer), on a
   sample scaled up. The first rows are compared.
2. ``emb search`` of ``--queries`` query lines against ``--docs`` documents (embedded once into a
   Parquet by ``emb embed``): the first search (which writes the sidecar copy and the int8 index)
   and a second one, as processes; and in one process the int8 prefilter against the plain
   float32 scan on the same query vectors.

It prints figures and ratios and asserts nothing: the machine is shared, so compare the ratios.

    python bench/embed.py                        # 400,000 lines; 1,000,000 documents x 1,000 queries
    python bench/embed.py --docs 200000          # a quicker check
"""

from __future__ import annotations

import argparse
import collections
import lzma
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample_data" / "web.txt.xz"
EMB = [sys.executable, "-m", "embcli"]
if shutil.which("emb", path=str(Path(sys.executable).parent)):
    EMB = [str(Path(sys.executable).parent / "emb")]


def build_model(cache: Path, words: int, dim: int) -> Path:
    from embcli.folder import atomic_dir, write_model
    from embcli.tokenize import TokenizerSettings, make_tokenizer

    folder = cache / f"model-{words}x{dim}"
    if (folder / "meta.json").is_file():
        return folder
    split = make_tokenizer(TokenizerSettings())
    with lzma.open(SAMPLE, "rt", encoding="utf-8") as fh:
        counts = collections.Counter(t for line in fh for t in split(line))
    names = [w for w, _ in counts.most_common()]
    freq = [counts[w] for w in names]
    names += [f"filler{i}" for i in range(max(0, words - len(names)))]
    freq += [1] * (len(names) - len(freq))
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(names), dim), dtype=np.float32)
    with atomic_dir(folder, force=True) as tmp:
        write_model(tmp, names, vectors, {"algorithm": "random", "tokenizer": {"mode": "unicode"}},
                    counts=np.asarray(freq, dtype=np.int64))
    return folder


def build_lines(cache: Path, n: int, tokens: int, seed: int) -> Path:
    path = cache / f"lines-{n}x{tokens}-{seed}.txt"
    if path.is_file():
        return path
    with lzma.open(SAMPLE, "rt", encoding="utf-8") as fh:
        words = fh.read().split()
    rng = np.random.default_rng(seed)
    # Distinct places (while there are enough): a collection of copies would be all ties.
    places = len(words) - tokens
    starts = rng.choice(places, n, replace=False) if n <= places else rng.integers(0, places, n)
    with open(path, "w", encoding="utf-8") as out:
        for s in starts.tolist():
            out.write(" ".join(words[s : s + tokens]) + "\n")
    return path


CPU = {"last": 0.0}


def timed(args, stdin=None) -> float:
    """Wall seconds of a process; its CPU seconds (user + system) are left in ``CPU["last"]``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, stdin=stdin, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall


def cpu_of(fn):
    """(result, wall seconds, CPU seconds of this process) of ``fn()``."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu


def bench_embed(model: Path, lines: Path, n: int, cache: Path, sample: int) -> None:
    from gensim.models import KeyedVectors

    from embcli.folder import ModelFolder
    from embcli.tokenize import make_tokenizer

    out = cache / "bench-out.npy"
    small = build_lines(cache, 2000, 20, 7)
    timed(EMB + ["-q", "embed", small, "-m", model, "-f", "npy", "-o", out])  # compiles (once) and warms up
    timed(EMB + ["-q", "embed", small, "-m", model, "-f", "npy", "-o", out])
    startup_cpu = CPU["last"]  # starting Python, numba and the model, and 2,000 lines
    runs = []
    for _ in range(2):
        runs.append((timed(EMB + ["-q", "embed", lines, "-m", model, "-f", "npy", "-o", out]), CPU["last"]))
    seconds, emb_cpu = min(runs)
    emb_rate = n / seconds

    m = ModelFolder(model)
    kv = KeyedVectors(m.dim)
    kv.add_vectors(m.words, np.asarray(m.vectors))
    split = make_tokenizer(m.tokenizer)
    with open(lines, encoding="utf-8") as fh:
        texts = [next(fh).rstrip("\n") for _ in range(sample)]
    ref, wall, g_cpu = cpu_of(lambda: [kv.get_mean_vector(split(t)) for t in texts])
    gensim_rate = sample / wall
    _, wall, s_cpu = cpu_of(lambda: [kv.get_mean_vector(t.split()) for t in texts])
    gensim_split_rate = sample / wall
    got = np.load(out, mmap_mode="r")[:sample]
    diff = float(np.abs(got - np.stack(ref)).max())

    print(f"\n== emb embed: {n:,} lines of 20 tokens, {m.vocab_size:,} words x {m.dim}, mean pooling, -f npy")
    print(f"emb embed (process, file in, npy out)    {emb_rate:>12,.0f} lines/s   ({seconds:.2f} s, {emb_cpu:.2f} CPU s)")
    print(f"gensim get_mean_vector, emb's tokenizer  {gensim_rate:>12,.0f} lines/s   (on {sample:,} lines)")
    print(f"gensim get_mean_vector, str.split        {gensim_split_rate:>12,.0f} lines/s")
    print(f"emb start-up (2,000 lines)               {startup_cpu:>12.2f} CPU s; after it"
          f" {n / max(emb_cpu - startup_cpu, 1e-9):,.0f} lines a CPU second")
    print(f"per CPU second: emb {n / emb_cpu:,.0f}, gensim {sample / g_cpu:,.0f} (emb's tokenizer),"
          f" {sample / s_cpu:,.0f} (str.split) lines")
    print(f"ratio emb / gensim (same tokens)         {emb_rate / gensim_rate:>12.1f} x   (target >= 3)")
    print(f"ratio emb / gensim (str.split)           {emb_rate / gensim_split_rate:>12.1f} x")
    print(f"target 200,000 lines/s                   {'met' if emb_rate >= 200_000 else 'NOT met'}")
    print(f"largest difference to gensim             {diff:.2e}")


def bench_search(model: Path, cache: Path, docs_n: int, queries_n: int, k: int) -> None:
    from embcli import docsearch
    from embcli.folder import ModelFolder
    from embcli.search import topk

    docs_txt = build_lines(cache, docs_n, 20, 11)
    parquet = cache / f"docs-{docs_n}.parquet"
    if not parquet.is_file():
        t = timed(EMB + ["-q", "embed", docs_txt, "-m", model, "-f", "parquet", "-o", parquet])
        print(f"\n(embedded {docs_n:,} documents into Parquet in {t:.1f} s: {docs_n / t:,.0f} lines/s)")
    shutil.rmtree(str(parquet) + docsearch.SIDECAR_SUFFIX, ignore_errors=True)
    queries = build_lines(cache, queries_n, 12, 13)
    args = EMB + ["-q", "search", "--docs", parquet, "-m", model, "-k", str(k), "-f", "tsv"]
    with open(queries, "rb") as fh:
        first = timed(args, stdin=fh)
    first_cpu = CPU["last"]
    with open(queries, "rb") as fh:
        second = timed(args, stdin=fh)
    second_cpu = CPU["last"]

    m = ModelFolder(model)
    docs = docsearch.open_docs(m, str(parquet))
    with open(queries, encoding="utf-8") as fh:
        texts = fh.read().splitlines()
    units, _ = docsearch.embed_queries(m, docs, texts)
    (rows, scores), int8_seconds, int8_cpu = cpu_of(lambda: docsearch.rank(docs, units, k))
    (ref_rows, ref_scores), float_seconds, float_cpu = cpu_of(lambda: topk(docs.vectors, docs.norms, units, k))
    same = float((rows == ref_rows).mean())
    gap = float(np.nanmax(np.abs(np.where(np.isfinite(ref_scores), scores - ref_scores, 0))))
    sidecar = Path(str(parquet) + docsearch.SIDECAR_SUFFIX)
    size = sum(p.stat().st_size for p in sidecar.rglob("*") if p.is_file())

    print(f"\n== emb search: {queries_n:,} queries x {docs_n:,} documents x {m.dim}, k={k}")
    print(f"emb search, first run (builds sidecar)   {first:>8.2f} s   ({first_cpu:.2f} CPU s)")
    print(f"emb search, next runs                    {second:>8.2f} s   ({second_cpu:.2f} CPU s; target <= 5 s)")
    print(f"int8 prefilter, in process               {int8_seconds:>8.2f} s   ({int8_cpu:.2f} CPU s)")
    print(f"float32 scan (search.topk), in process   {float_seconds:>8.2f} s   ({float_cpu:.2f} CPU s)")
    print(f"ratio float32 / int8                     {float_seconds / int8_seconds:>8.1f} x")
    print(f"same rows as the float32 scan            {same:.4%} (largest score difference {gap:.1e};"
          " equal scores may come in another order)")
    print(f"sidecar folder                           {size / 1e9:.2f} GB ({size / docs_n:.0f} bytes a document)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--sample", type=int, default=20_000, help="lines timed for gensim")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/emb-bench-embed"))
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    model = build_model(args.cache, args.words, args.dim)
    lines = build_lines(args.cache, args.lines, 20, 5)
    bench_embed(model, lines, args.lines, args.cache, args.sample)
    if not args.skip_search:
        bench_search(model, args.cache, args.docs, args.queries, args.k)


if __name__ == "__main__":
    main()
