"""Benchmark the Spark engine against emb's local engine on the benchmark corpus, in one run.

1. Word2Vec: ``emb train --engine spark --master local[N]`` (Spark MLlib: skip-gram, hierarchical
   softmax) at 1, 2 and 4 partitions (MLlib's numPartitions), against emb's local word2vec
   (skip-gram, negative sampling, ``--threads N``), each a whole ``emb train`` in a subprocess from
   the raw .xz files: wall time, CPU time of the process tree (the JVM and its Python workers
   included), analogy accuracy, WS353 and SimLex-999 Spearman.
2. GloVe's co-occurrence counting, in this process: the local engine (tokenizing with ``--threads``
   workers + the counter) against Spark (tokenizing + counting in Spark, through Parquet into the
   entry files), same corpus, window 10, min-count 5; the time of each step and whether the records
   are identical (the same pairs, counts equal to float32 rounding).

Prints every figure and the ratios; asserts nothing. ``--quick``: web.txt.xz alone. One machine shows
what partitions cost in quality and what Spark's overhead is; it cannot show scaling across nodes.
On a cluster, give its master (the runs are still ``emb train`` processes on this machine, the
driver, and their executors run on the cluster; the corpus may be on HDFS or S3)::

    python bench/spark.py --master spark://head:7077 --corpus 'hdfs:///bench/*.txt.xz' \\
        --partitions 1 8 32 --skip-local --conf spark.executor.memory=8g

(with YARN: ``--master yarn`` and HADOOP_CONF_DIR set; to go through spark-submit instead, submit
README's ``emb_submit.py`` with ``train ... --engine spark`` once for each partition count).

Run as ``python bench/spark.py [--quick]`` from the checkout with the ``spark`` and ``bench`` extras.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train import ALL_FILES, CORPORA, emb_keyed_vectors, evaluate  # noqa: E402

SPARK_CONF: list[str] = []
COMMON = ["--dim", "100", "--window", "5", "--epochs", "5", "--min-count", "5", "--seed", "1"]


def run_tree(cmd: list[str], env: dict) -> dict:
    """Run ``cmd``; wall seconds and CPU seconds of its whole process tree (sampled, children that
    were never waited for included: the JVM and Spark's Python workers)."""
    import psutil

    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        root = psutil.Process(proc.pid)
        cpu: dict[int, float] = {}
        while proc.poll() is None:
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    t = p.cpu_times()
                    cpu[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        err.seek(0)
        stderr = err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    return {"seconds": seconds, "cpu_seconds": sum(cpu.values()), "stderr": stderr}


def train(files: list[str], home: Path, name: str, extra: list[str]) -> dict:
    import json

    env = dict(os.environ, EMB_HOME=str(home))
    cmd = [sys.executable, "-m", "embcli", "train", *files, *COMMON, "--name", name, *extra]
    result = run_tree(cmd, env)
    folder = home / "models" / name
    meta = json.loads((folder / "meta.json").read_text())
    result.update(evaluate(emb_keyed_vectors(folder)))
    result["vocab"] = meta["vocab_size"]
    result["tokenize_s"] = meta["timings"]["tokenize_seconds"]
    result["train_s"] = meta["timings"]["train_seconds"]
    return result


def row(label: str, r: dict, base: dict | None) -> str:
    ratio = f"{r['seconds'] / base['seconds']:5.2f}x {r['cpu_seconds'] / base['cpu_seconds']:5.2f}x" if base else " " * 13
    return (
        f"{label:<26} {r['seconds']:7.1f} {r['cpu_seconds']:7.1f}  {ratio}  {r['tokenize_s']:6.1f} {r['train_s']:7.1f}"
        f"  {r['analogy']:.3f}  {r['ws353']:.3f}  {r['simlex']:.3f}  {r['vocab']:>7,}"
    )


def word2vec(files: list[str], cores: int, partitions: list[int], skip_local: bool, master: str) -> None:
    home = Path(tempfile.mkdtemp(prefix="emb-bench-spark-"))
    try:
        _word2vec(files, cores, partitions, skip_local, master, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _word2vec(files, cores, partitions, skip_local, master, home: Path) -> None:
    print(f"\nWord2Vec: dim 100, window 5, 5 epochs, min-count 5; {master} against emb local --threads {cores}")
    print(f"{'run':<26} {'wall s':>7} {'CPU s':>7}  {'vs local':>13}  {'tok s':>6} {'train s':>7}"
          f"  analogy ws353  simlex   vocab")
    base = None
    if not skip_local:
        base = train(files, home, "local", ["--threads", str(cores)])
        print(row(f"emb local ns (threads {cores})", base, None), flush=True)
    for p in partitions:
        r = train(files, home, f"spark-{p}", ["--engine", "spark", "--master", master, "--partitions", str(p), *SPARK_CONF])
        print(row(f"spark MLlib hs, {p} part.", r, base), flush=True)


def glove_counting(files: list[str], cores: int, master: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="emb-bench-glove-"))
    try:
        _glove_counting(files, cores, master, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _glove_counting(files, cores, master, work: Path) -> None:
    import numpy as np

    from embcli.corpus import Corpus
    from embcli.spark.glove import count_spark
    from embcli.spark.prepared import prepare
    from embcli.spark.session import SparkOptions, get_session
    from embcli.tokenize import TokenizerSettings
    from embcli.training.common import select_vocabulary
    from embcli.training.glove.cooccur import count_cooccurrences
    from embcli.training.prepare import prepare_corpus

    window, min_count = 10, 5
    settings = TokenizerSettings()
    (work / "local").mkdir()
    (work / "spark").mkdir()
    print(f"\nGloVe co-occurrence counting: window {window}, min-count {min_count}; local {cores} tokenizing"
          f" workers + the counter against {master}")
    t0, c0 = time.perf_counter(), time.process_time()
    local = prepare_corpus(Corpus(files), settings, work / "corpus.tmp", workers=cores)
    t1 = time.perf_counter()
    words, _ = select_vocabulary(local.counts, min_count, None)
    co_local = count_cooccurrences(local.path, words, local.counts.keys(), window, 2.0, work / "local", local.stats.tokens)
    t2, c2 = time.perf_counter(), time.process_time()
    spark = get_session(SparkOptions(master=master))
    t3 = time.perf_counter()
    prepared = prepare(spark, files, settings, min_count, None)
    t4 = time.perf_counter()
    co_spark = count_spark(prepared, words, window, work / "spark")
    t5 = time.perf_counter()
    prepared.release()
    print(f"{'':<28} {'tokenize s':>10} {'count s':>8} {'total s':>8}")
    print(f"{'local (tokenize + count)':<28} {t1 - t0:10.1f} {t2 - t1:8.1f} {t2 - t0:8.1f}   (driver CPU {c2 - c0:.1f} s)")
    print(f"{'spark (tokenize + count)':<28} {t4 - t3:10.1f} {t5 - t4:8.1f} {t5 - t3:8.1f}   "
          f"(+ {t3 - t2:.1f} s to start Spark; ratio spark/local {((t5 - t3) / (t2 - t0)):.2f}x)")
    same_counts = dict(prepared.counts) == {w: c for w, c in local.counts.items() if c >= min_count}

    def keys(co):
        pairs, xs = co.open()
        k = pairs[:, 0].astype(np.int64) * len(words) + pairs[:, 1]
        order = np.argsort(k, kind="stable")
        return k[order], np.asarray(xs)[order]

    lk, lx = keys(co_local)
    sk, sx = keys(co_spark)
    same_pairs = co_local.entries == co_spark.entries and np.array_equal(lk, sk)
    close = same_pairs and np.allclose(sx, lx, rtol=1e-6, atol=0)
    worst = float(np.max(np.abs(sx - lx) / np.maximum(lx, 1e-12))) if same_pairs else float("nan")
    print(f"records: local {co_local.entries:,}, spark {co_spark.entries:,}; same word counts: {same_counts};"
          f" same pairs: {same_pairs}; counts equal to float32 rounding: {close} (largest relative difference {worst:.2e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="web.txt.xz alone")
    parser.add_argument("--corpus", nargs="*", help="paths instead of the benchmark corpus (any path Spark reads)")
    parser.add_argument("--partitions", nargs="*", type=int, default=[1, 2, 4])
    parser.add_argument("--cores", type=int, default=2, help="local[N] and the local engine's --threads")
    parser.add_argument("--master", help="a Spark master URL [default: local[CORES]]")
    parser.add_argument("--conf", nargs="*", default=[], help="Spark properties KEY=VALUE for the Spark runs")
    parser.add_argument("--skip-local", action="store_true", help="no local runs (a cluster, data on HDFS)")
    parser.add_argument("--skip-glove", action="store_true")
    parser.add_argument("--skip-word2vec", action="store_true")
    args = parser.parse_args()
    files = args.corpus or [str(CORPORA / f) for f in (["web.txt.xz"] if args.quick else ALL_FILES)]
    master = args.master or f"local[{args.cores}]"
    global SPARK_CONF
    SPARK_CONF = [x for kv in args.conf for x in ("--conf", kv)]
    import pyspark

    print(f"emb Spark benchmark: {', '.join(Path(f).name for f in files)}; PySpark {pyspark.__version__};"
          f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_word2vec:
        word2vec(files, args.cores, args.partitions, args.skip_local, master)
    if not args.skip_glove and not args.skip_local:
        glove_counting(files, args.cores, master)


if __name__ == "__main__":
    main()
