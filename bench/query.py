"""Benchmark: emb's queries from a cold process and in batch, against gensim on the same vectors.

Builds (once, into a cache folder) a model of ``--words`` random 300-dimensional vectors with made-up
words ``w0, w1, ...`` through the store's writer, and the same vectors saved in gensim's KeyedVectors
format. Then, with the page cache warm, measures:

- ``emb neighbors WORD`` as a fresh process, against a fresh Python doing gensim's
  ``KeyedVectors.load(..., mmap='r')`` and ``most_similar``;
- ``--queries`` neighbour queries through stdin in one ``emb`` process (gensim: the same per-query
  work measured on a sample in one process and scaled up);
- ``emb --help``;
- the Python API from a fresh interpreter (``embcli.load(folder).neighbors(WORD)``) against gensim's
  ``KeyedVectors.load(..., mmap='r')`` + ``most_similar``;
- the peak resident memory of a single ``emb neighbors`` query, against the size of vectors.npy;
- with ``--before EMB``, the rows for ``emb`` measured again, in the same run, with another ``emb``
  executable (for instance one installed from an older commit into its own venv), and the ratios.

It prints figures and ratios and asserts nothing. The targets it prints are the project's goals for a
1,000,000 x 300 model; at smaller ``--words`` they are only a reference.

    python bench/query.py                      # 1,000,000 words (builds 2.4 GB of cache once)
    python bench/query.py --words 100000       # a quick check
    python bench/query.py --before /tmp/venv-old/bin/emb   # against an older emb, same run
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
EMB = [sys.executable, "-m", "embcli"]
if shutil.which("emb", path=str(Path(sys.executable).parent)):
    EMB = [str(Path(sys.executable).parent / "emb")]


def build(cache: Path, words: int, dim: int, seed: int) -> tuple[Path, Path]:
    """The emb model folder and the gensim file for ``words`` x ``dim``, built once."""
    from embcli.folder import atomic_dir, write_model

    folder = cache / f"emb-{words}x{dim}"
    kv_path = cache / f"gensim-{words}x{dim}.kv"
    if (folder / "meta.json").is_file() and kv_path.is_file():
        return folder, kv_path
    cache.mkdir(parents=True, exist_ok=True)
    print(f"building {words:,} x {dim} random vectors in {cache} (once)...", file=sys.stderr)
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((words, dim), dtype=np.float32)
    names = [f"w{i}" for i in range(words)]
    meta = {"algorithm": "random", "tokenizer": {"mode": "whitespace", "lowercase": False}}
    counts = np.arange(words, 0, -1, dtype=np.int64)
    with atomic_dir(folder, force=True) as tmp:
        write_model(tmp, names, vectors, meta, counts=counts)
    from gensim.models import KeyedVectors

    kv = KeyedVectors(dim)
    kv.add_vectors(names, vectors)
    kv.save(str(kv_path))
    return folder, kv_path


def warm(paths: list[Path]) -> None:
    """Read files once so that the page cache holds them."""
    for p in paths:
        with open(p, "rb") as fh:
            while fh.read(1 << 24):
                pass


CPU = {}


def wall(cmd: list[str], runs: int, stdin: bytes | None = None) -> tuple[float, bytes]:
    """Median wall time of ``runs`` fresh runs of ``cmd`` (after one warm-up run).

    The median CPU time (user + system, all threads) of the same runs is kept in ``CPU[cmd[-1]]``:
    on a shared machine it shows how much of the wall time was waiting for a core.
    """
    import resource

    times, cpus = [], []
    out = b""
    for i in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
        spent = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
        out = proc.stdout
        if i:
            times.append(spent)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    CPU["last"] = statistics.median(cpus)
    return statistics.median(times), out


def peak_rss_kb(cmd: list[str]) -> int:
    """Peak resident set size of one run of ``cmd`` (GNU time -v, else getrusage of the child)."""
    if os.path.exists("/usr/bin/time"):
        proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, check=True)
        m = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if m:
            return int(m.group(1))
    import resource

    subprocess.run(cmd, capture_output=True, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


GENSIM_ONE = """
import sys
from gensim.models import KeyedVectors
kv = KeyedVectors.load(sys.argv[1], mmap="r")
for word, score in kv.most_similar(sys.argv[2], topn=10):
    print(f"{word}\\t{score:.6g}")
"""

API_ONE = """
import sys
import embcli
for n in embcli.load(sys.argv[1]).neighbors(sys.argv[2], k=10):
    print(f"{n.word}\\t{n.score:.6g}")
"""

GENSIM_MANY = """
import sys, time
from gensim.models import KeyedVectors
kv = KeyedVectors.load(sys.argv[1], mmap="r")
kv.most_similar(sys.argv[2], topn=10)  # norms computed once, as in a long-running process
words = sys.argv[3:]
t = time.perf_counter()
for w in words:
    kv.most_similar(w, topn=10)
print((time.perf_counter() - t) / len(words))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=1_000_000, help="vocabulary size (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--queries", type=int, default=1000, help="queries in the batch run")
    ap.add_argument("--gensim-sample", type=int, default=20, help="gensim queries timed for the batch estimate")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each fresh-process measurement")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "emb-bench")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before", help="another emb executable to measure in the same run (e.g. an older install)")
    args = ap.parse_args()

    folder, kv_path = build(args.cache, args.words, args.dim, args.seed)
    vec_bytes = (folder / "vectors.npy").stat().st_size
    warm([folder / "vectors.npy", folder / "norms.npy", folder / "vocab.txt", *kv_path.parent.glob(kv_path.name + "*")])
    word = f"w{min(123456, args.words - 1)}"
    env_note = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"
    print(f"model: {args.words:,} x {args.dim} float32, vectors.npy {vec_bytes / 1e9:.2f} GB; {env_note}")

    emb_one = [*EMB, "neighbors", word, "-m", str(folder), "-f", "tsv"]
    t_emb, out_emb = wall(emb_one, args.runs)
    c_emb = CPU["last"]
    t_gen, out_gen = wall([sys.executable, "-c", GENSIM_ONE, str(kv_path), word], max(1, args.runs // 2))
    c_gen = CPU["last"]
    emb_words = [line.split(b"\t")[2] for line in out_emb.splitlines()[1:]]
    gen_words = [line.split(b"\t")[0] for line in out_gen.splitlines()]
    same = "same top 10" if emb_words == gen_words else "DIFFERENT top 10"
    print(f"fresh `emb neighbors {word}`:         {t_emb:6.3f} s wall, {c_emb:.3f} s CPU   (target <= 0.35 s wall)")
    print(f"fresh gensim load(mmap='r') + most_similar: {t_gen:6.3f} s wall, {c_gen:.3f} s CPU   emb is"
          f" {t_gen / t_emb:.1f}x faster (target >= 5x); {same}")

    rng = np.random.default_rng(args.seed + 1)
    picks = [f"w{i}" for i in rng.integers(0, args.words, args.queries)]
    stdin = ("\n".join(picks) + "\n").encode()
    batch_cmd = [*EMB, "neighbors", "-m", str(folder), "-f", "tsv"]
    # The first large batch on a model builds its int8 search index (kept in the model folder).
    shutil.rmtree(folder / "search-index", ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(batch_cmd, input=stdin, capture_output=True, check=True)
    t_first = time.perf_counter() - t
    t_batch, out_batch = wall(batch_cmd, max(1, args.runs // 2), stdin)
    c_batch = CPU["last"]
    rows = out_batch.count(b"\n") - 1
    # One query at a time takes the plain float32 search: the batch must give the same words.
    check = sorted(set(picks))[:5]
    agree = True
    for w in check:
        one = subprocess.run([*EMB, "neighbors", w, "-m", str(folder), "-f", "tsv"], capture_output=True, check=True)
        want = [line.split(b"\t")[2] for line in one.stdout.splitlines()[1:]]
        got = [line.split(b"\t")[2] for line in out_batch.splitlines()[1:] if line.split(b"\t")[0] == w.encode()]
        agree &= got[: len(want)] == want
    sample = picks[: args.gensim_sample]
    proc = subprocess.run(
        [sys.executable, "-c", GENSIM_MANY, str(kv_path), word, *sample], capture_output=True, check=True
    )
    per_query = float(proc.stdout.decode().strip())
    print(f"{args.queries} queries through stdin, one emb process: {t_batch:6.3f} s wall, {c_batch:.3f} s CPU"
          f" ({rows} rows)   (target <= 2 s wall); gensim in one process: {per_query * 1000:.1f} ms a query"
          f" -> {per_query * args.queries:.1f} s for {args.queries} (estimated from {len(sample)}),"
          f" {per_query * args.queries / t_batch:.1f}x emb's time")
    print(f"  the first batch on the model, building its int8 search index: {t_first:6.3f} s;"
          f" batch answers {'equal' if agree else 'DIFFER FROM'} single queries' for {len(check)} words")

    t_help, _ = wall([*EMB, "--help"], args.runs)
    c_help = CPU["last"]
    print(f"`emb --help`:                          {t_help:6.3f} s wall, {c_help:.3f} s CPU   (target <= 0.15 s)")

    t_api, out_api = wall([sys.executable, "-c", API_ONE, str(folder), word], args.runs)
    c_api = CPU["last"]
    api_words = [line.split(b"\t")[0] for line in out_api.splitlines()]
    print(f"fresh Python embcli.load().neighbors(): {t_api:6.3f} s wall, {c_api:.3f} s CPU   gensim load(mmap='r') +"
          f" most_similar is {t_gen / t_api:.1f}x its time; {'same' if api_words == gen_words else 'DIFFERENT'} top 10"
          f" as gensim")

    if args.before:
        compare(args, folder, word, stdin, [(f"fresh `emb neighbors {word}`", t_emb, c_emb),
                                            (f"{args.queries} queries through stdin", t_batch, c_batch),
                                            ("`emb --help`", t_help, c_help)])

    rss = peak_rss_kb(emb_one) * 1024
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"peak memory of one query:              {rss / 1e9:6.3f} GB = {rss / vec_bytes:.2f}x vectors.npy"
          " (target <= 1.2x)")


def compare(args, folder: Path, word: str, stdin: bytes, rows: list) -> None:
    """The same measurements with ``args.before``, beside this run's (after one warm-up each)."""
    before = [args.before]
    t_one, _ = wall([*before, "neighbors", word, "-m", str(folder), "-f", "tsv"], args.runs)
    c_one = CPU["last"]
    t_many, _ = wall([*before, "neighbors", "-m", str(folder), "-f", "tsv"], max(1, args.runs // 2), stdin)
    c_many = CPU["last"]
    t_help, _ = wall([*before, "--help"], args.runs)
    c_help = CPU["last"]
    print(f"before ({args.before}) and now, same run (wall; CPU):")
    for (label, now, now_cpu), (then, then_cpu) in zip(rows, [(t_one, c_one), (t_many, c_many), (t_help, c_help)]):
        cpu = f"; CPU {then_cpu:.3f} -> {now_cpu:.3f} s" if now_cpu is not None else ""
        print(f"  {label}: {then:6.3f} s before, {now:6.3f} s now ({now / then:.2f}x){cpu}")


if __name__ == "__main__":
    main()
