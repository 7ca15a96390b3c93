"""Benchmark ``emb train`` against gensim and Facebook's fastText on the shared corpora.

Measures, in one run and on the same machine:

- emb's whole ``emb train`` (a subprocess reading the raw .xz files, tokenizing included) against
  gensim's own Word2Vec / FastText with ``corpus_file`` on text tokenized beforehand (also a
  subprocess, timed from start to end, its vocabulary scan included), same parameters;
- tokenizing alone (decompress + tokenize, one core), in tokens per second;
- peak memory of every run: the RSS of its whole process tree (emb's tokenizing workers included),
  sampled every 50 ms, and the high-water mark of its largest process (``ru_maxrss``, exact); the
  ratio emb / gensim of both; ``emb train`` on the corpus repeated three times. Beside the RSS, the
  peak of the tree's anonymous memory (``Anonymous`` of /proc/PID/smaps_rollup: heap, matrices,
  stacks; not the pages of shared libraries and files mapped read-only, which the kernel can drop
  and read again), since numba's LLVM library maps about 90 MB of code pages that gensim has no
  counterpart for;
- analogy accuracy (``questions-words.txt``), WS353 and SimLex-999 Spearman of every model;
  ``--seeds N`` trains every variant with seeds 1..N (emb and gensim in turn) and prints the mean
  and range of each figure and the ratio of the summed times;
- FastText: emb (its own trainer) with its default settings against fastText's C++ core
  (``fasttext-numpy2``), same dim/window/epochs/min-count, for each FastText architecture measured.

Prints every figure and the ratios; asserts nothing. ``--quick`` uses web.txt.xz alone and fewer
variants. Run as ``python bench/train.py [--quick]`` from the checkout with the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPORA = Path(os.environ.get("EMB_BENCH_CORPORA", "/work/shared/corpora"))
ALL_FILES = ["web.txt.xz", "tdavid.txt.xz", "mhcc.txt.xz", "gcide.txt.xz"]
COMMON = dict(dim=100, window=5, epochs=5, negative=5, min_count=5)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --------------------------------------------------------------------------- measuring a subprocess


def anonymous_bytes(pid: int) -> int:
    """The anonymous memory of process ``pid`` (/proc/PID/smaps_rollup), 0 if it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def run_measured(cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd``; return wall seconds, CPU seconds (its process tree), peak RSS of the tree, output.

    CPU seconds (user + system, children included) are steadier than wall time on a shared machine.
    ``peak_rss`` is the largest sum of the RSS of the process and all its descendants, sampled every
    50 ms; ``max_rss`` the high-water mark of the largest single process of the tree (exact).
    """
    import psutil

    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        ps = psutil.Process(proc.pid)
        peak = anon_peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                tree = [ps, *ps.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree)
                peak = max(peak, rss)
                anon_peak = max(anon_peak, sum(anonymous_bytes(p.pid) for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss": peak, "max_rss": usage.ru_maxrss * 1024,
            "peak_anon": anon_peak,
            "stdout": stdout, "stderr": stderr}


# --------------------------------------------------------------------------- evaluation


def evaluate(kv) -> dict:
    """Analogy accuracy and WS353 Spearman of a gensim KeyedVectors (in-vocabulary words only)."""
    import logging

    from gensim.test.utils import datapath

    logging.getLogger("gensim").setLevel(logging.ERROR)
    analogy, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    total = next(s for s in sections if s["section"] == "Total accuracy")
    n = len(total["correct"]) + len(total["incorrect"])
    pearson, spearman, oov = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    simlex = kv.evaluate_word_pairs(datapath("simlex999.txt"))[1]
    return {
        "analogy": float(analogy),
        "analogy_n": n,
        "ws353": float(spearman[0]),
        "ws353_oov": float(oov),
        "simlex": float(simlex[0]),
    }


def emb_keyed_vectors(folder: Path):
    """gensim KeyedVectors over an emb model folder (read directly, no pickles)."""
    import numpy as np
    from gensim.models import KeyedVectors

    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


# --------------------------------------------------------------------------- children


def child_gensim(spec: dict) -> dict:
    """Train gensim's own model on the pre-tokenized file and save its vectors, as a user would."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from gensim.models import FastText, Word2Vec

    cls = FastText if spec["algo"] == "fasttext" else Word2Vec
    kwargs = dict(
        corpus_file=spec["corpus_file"],
        vector_size=spec["dim"],
        window=spec["window"],
        epochs=spec["epochs"],
        negative=spec["negative"],
        min_count=spec["min_count"],
        sg=1 if spec["arch"] == "skipgram" else 0,
        workers=spec["threads"],
        seed=spec.get("seed", 1),
    )
    for key in ("alpha", "sample", "ns_exponent"):
        if spec.get(key) is not None:
            kwargs[key] = spec[key]
    if spec["algo"] == "fasttext":
        kwargs.update(min_n=3, max_n=6, bucket=2_000_000)
    started = time.perf_counter()
    model = cls(**kwargs)
    seconds = time.perf_counter() - started
    model.wv.save(spec["save"])
    return {"train_seconds": seconds, "vocab": len(model.wv)}


def child_fasttext(spec: dict) -> dict:
    """Train with fastText's C++ core (fasttext-numpy2) on the pre-tokenized file and save the model."""
    import fasttext

    kwargs = dict(
        input=spec["corpus_file"],
        model=spec["arch"],
        dim=spec["dim"],
        ws=spec["window"],
        epoch=spec["epochs"],
        neg=spec["negative"],
        minCount=spec["min_count"],
        thread=spec["threads"],
        verbose=0,
    )
    for key in ("lr", "t"):
        if spec.get(key) is not None:
            kwargs[key] = spec[key]
    started = time.perf_counter()
    model = fasttext.train_unsupervised(**kwargs)
    seconds = time.perf_counter() - started
    model.save_model(spec["save"])
    return {"train_seconds": seconds, "vocab": len([w for w in model.get_words() if w != "</s>"])}


def fasttext_keyed_vectors(path: str):
    """gensim KeyedVectors of the words of a fastText .bin model (``</s>`` left out)."""
    import fasttext
    import numpy as np
    from gensim.models import KeyedVectors

    model = fasttext.load_model(path)
    words = [w for w in model.get_words() if w != "</s>"]
    vectors = np.vstack([model.get_word_vector(w) for w in words]).astype(np.float32)
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def run_child(kind: str, spec: dict) -> dict:
    """Train in a fresh process (timed from start to exit, evaluation excluded), then evaluate here."""
    from gensim.models import KeyedVectors

    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=Path(spec["corpus_file"]).parent))
    spec = dict(spec, save=str(folder / ("model.bin" if kind == "fasttext" else "model.kv")))
    try:
        cmd = [sys.executable, __file__, "--child", kind, json.dumps(spec)]
        measured = run_measured(cmd)
        result = json.loads(measured["stdout"].strip().splitlines()[-1])
        result.update(seconds=measured["seconds"], cpu_seconds=measured["cpu_seconds"], peak_rss=measured["peak_rss"],
                      max_rss=measured["max_rss"], peak_anon=measured["peak_anon"])
        kv = fasttext_keyed_vectors(spec["save"]) if kind == "fasttext" else KeyedVectors.load(spec["save"])
        result.update(evaluate(kv))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- emb


def run_emb(files: list[Path], algo: str, arch: str, threads: int, home: Path, name: str, extra=()) -> dict:
    """The whole ``emb train`` as a user runs it, from the raw compressed files."""
    env = dict(os.environ, EMB_HOME=str(home))
    cmd = [sys.executable, "-m", "embcli", "train", *map(str, files), "--algo", algo, "--arch", arch,
           "--dim", str(COMMON["dim"]), "--window", str(COMMON["window"]), "--epochs", str(COMMON["epochs"]),
           "--negative", str(COMMON["negative"]), "--min-count", str(COMMON["min_count"]),
           "--threads", str(threads), "--name", name, "--force", *extra]
    measured = run_measured(cmd, env=env)
    folder = home / "models" / name
    meta = json.loads((folder / "meta.json").read_text())
    result = {
        "seconds": measured["seconds"],
        "cpu_seconds": measured["cpu_seconds"],
        "peak_rss": measured["peak_rss"],
        "max_rss": measured["max_rss"],
        "peak_anon": measured["peak_anon"],
        "tokenize_seconds": meta["timings"]["tokenize_seconds"],
        "train_seconds": meta["timings"]["train_seconds"],
        "vocab": meta["vocab_size"],
        "params": meta["params"],
        **evaluate(emb_keyed_vectors(folder)),
    }
    return result


def tokenize_beforehand(files: list[Path], out: Path) -> dict:
    """Write the corpus tokenized by emb's tokenizer (for the peers) and time tokenizing alone."""
    from embcli.corpus import Corpus
    from embcli.tokenize import TokenizerSettings, chunks, make_tokenizer

    corpus = Corpus([str(f) for f in files])
    started = time.perf_counter()
    for _ in corpus.lines():
        pass
    read_seconds = time.perf_counter() - started
    split = make_tokenizer(TokenizerSettings())
    tokens = 0
    cpu0 = time.process_time()
    started = time.perf_counter()
    for line in corpus.lines():
        tokens += len(split(line))
    tok_seconds = time.perf_counter() - started
    tok_cpu = time.process_time() - cpu0
    with open(out, "w", encoding="utf-8") as fh:
        for line in corpus.lines():
            toks = split(line)
            for piece in chunks(toks):
                fh.write(" ".join(piece) + "\n")
    return {
        "tokens": tokens,
        "bytes": corpus.stats.bytes,
        "read_seconds": read_seconds,
        "read_tokenize_seconds": tok_seconds,
        "read_tokenize_cpu": tok_cpu,
    }


# --------------------------------------------------------------------------- report


def fmt_row(label: str, r: dict) -> str:
    return (
        f"  {label:<40} {r['seconds']:7.1f} s (CPU {r['cpu_seconds']:6.1f} s)  peak {r['peak_rss'] / 1e6:4.0f} MB"
        f" (largest process {r['max_rss'] / 1e6:4.0f} MB, anonymous {r['peak_anon'] / 1e6:4.0f} MB)  vocab {r['vocab']:>7,}"
        f"  analogies {100 * r['analogy']:5.1f}% (n={r['analogy_n']})  WS353 {r['ws353']:.3f}"
        f" ({r['ws353_oov']:.0f}% pairs OOV)  SimLex {r['simlex']:.3f}"
    )


def spread(label: str, rows: list[dict]) -> str:
    """Mean and range over seeds of every quality figure and of the wall and CPU time."""
    parts = []
    for key, scale, fmt in (("analogy", 100, "{:.2f}%"), ("ws353", 1, "{:.3f}"), ("simlex", 1, "{:.3f}"),
                            ("seconds", 1, "{:.1f} s"), ("cpu_seconds", 1, "{:.1f} s"), ("peak_rss", 1e-6, "{:.0f} MB")):
        vals = [scale * r[key] for r in rows]
        mean = sum(vals) / len(vals)
        parts.append(f"{key} {fmt.format(mean)} [{fmt.format(min(vals))}..{fmt.format(max(vals))}]")
    return f"  {label:<16} mean over {len(rows)} seeds: " + ", ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="web.txt.xz only, fewer variants")
    ap.add_argument("--threads", type=int, default=cores(), help="threads for every trainer [all cores]")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory runs (emb and gensim, corpus x3)")
    ap.add_argument("--memory-only", action="store_true", help="only the memory runs")
    ap.add_argument("--no-fasttext-cpp", action="store_true", help="skip Facebook's fastText")
    ap.add_argument("--only", nargs="+", metavar="ALGO:ARCH", help="only these variants, e.g. word2vec:cbow")
    ap.add_argument("--gensim-ft-defaults", action="store_true",
                    help="also train gensim's FastText with gensim's own defaults (lr 0.025, sample 1e-3)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="train every variant with seeds 1..N (emb and gensim alternately) and print the spread")
    ap.add_argument("--first-seed", type=int, default=1, metavar="S",
                    help="seeds S..S+N-1 instead (to run the seeds of one comparison in parallel processes)")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, spec = args.child
        fn = child_gensim if kind == "gensim" else child_fasttext
        print(json.dumps(fn(json.loads(spec))))
        return

    files = [CORPORA / f for f in (["web.txt.xz"] if args.quick else ALL_FILES)]
    threads = args.threads
    work = Path(tempfile.mkdtemp(prefix="emb-bench-"))
    try:
        print(f"corpus: {', '.join(f.name for f in files)}; threads {threads} of {os.cpu_count()} cores;"
              f" load average {os.getloadavg()[0]:.1f} at start", flush=True)
        tokfile = work / "tokenized.txt"
        tok = tokenize_beforehand(files, tokfile)
        print(f"\n[tokenizing alone, one core] {tok['tokens']:,} tokens, {tok['bytes'] / 1e6:.1f} MB of text")
        print(f"  decompress + read lines       {tok['read_seconds']:.2f} s")
        print(f"  decompress + read + tokenize  {tok['read_tokenize_seconds']:.2f} s"
              f" = {tok['tokens'] / tok['read_tokenize_seconds'] / 1e6:.2f} M tokens/s per core"
              f" (CPU {tok['read_tokenize_cpu']:.2f} s = {tok['tokens'] / tok['read_tokenize_cpu'] / 1e6:.2f} M tokens/s"
              " per CPU-second; goal >= 1.00)", flush=True)

        variants = [("word2vec", "skipgram"), ("word2vec", "cbow"), ("fasttext", "skipgram"), ("fasttext", "cbow")]
        if args.quick:
            variants = [("word2vec", "cbow"), ("fasttext", "skipgram")]
        if args.only:
            variants = [tuple(v.split(":")) for v in args.only]
        if args.memory_only:
            variants = []
        home = work / "home"
        spec_base = dict(corpus_file=str(tokfile), threads=threads, **COMMON)
        results = {}
        for algo, arch in variants:
            label = f"{algo} {arch}"
            print(f"\n[{label}]", flush=True)
            embs, gss = [], []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                if args.seeds > 1 or args.first_seed != 1:
                    print(f"  seed {seed}", flush=True)
                emb = run_emb(files, algo, arch, threads, home, f"{algo}-{arch}", extra=("--seed", str(seed)))
                print(fmt_row("emb train (from .xz, all included)", emb))
                print(f"    of which tokenizing {emb['tokenize_seconds']:.1f} s, training {emb['train_seconds']:.1f} s")
                p = emb["params"]
                gs = run_child("gensim", dict(spec_base, algo=algo, arch=arch, alpha=p["lr"], sample=p["sample"],
                                              ns_exponent=p.get("ns_exponent"), seed=seed))
                print(fmt_row(f"gensim (lr {p['lr']}, sample {p['sample']:g}, ns_exp {p.get('ns_exponent', 0.75)})", gs))
                print(f"    of which model construction {gs['train_seconds']:.1f} s")
                goal = 0.67 if algo == "word2vec" else (1.10 if arch == "skipgram" else 1.25)
                ratio = emb["seconds"] / gs["seconds"]
                cpu_ratio = emb["cpu_seconds"] / gs["cpu_seconds"]
                print(f"  ratio emb / gensim wall time: {ratio:.3f} (goal <= {goal:.2f}: "
                      f"{'met' if ratio <= goal else 'NOT met'}); CPU time {cpu_ratio:.3f};"
                      f" peak memory {emb['peak_rss'] / gs['peak_rss']:.3f} (largest process"
                      f" {emb['max_rss'] / gs['max_rss']:.3f}; goal <= 1);"
                      f" analogies {100 * emb['analogy']:.1f}% vs {100 * gs['analogy']:.1f}%", flush=True)
                embs.append(emb)
                gss.append(gs)
            if args.seeds > 1:
                print(spread("emb", embs))
                print(spread("gensim", gss))
                wall = sum(e["seconds"] for e in embs) / sum(g["seconds"] for g in gss)
                cpu = sum(e["cpu_seconds"] for e in embs) / sum(g["cpu_seconds"] for g in gss)
                print(f"  ratio emb / gensim over all seeds: wall {wall:.3f}, CPU {cpu:.3f}", flush=True)
            results[label] = (embs[0], gss[0])

        # Facebook's fastText for every FastText architecture measured above (skip-gram if none).
        ft_archs = [arch for algo, arch in variants if algo == "fasttext"] or ["skipgram"]
        for arch in [] if args.no_fasttext_cpp or args.memory_only else ft_archs:
            print(f"\n[FastText: emb defaults vs Facebook's fastText (C++ core), {arch}, defaults of each]",
                  flush=True)
            emb = results.get(f"fasttext {arch}", (None,))[0] or run_emb(
                files, "fasttext", arch, threads, home, f"fasttext-{arch}")
            ft = run_child("fasttext", dict(spec_base, arch=arch))
            print(fmt_row("emb (defaults: lr 0.05, sample 1e-4, ns_exp 0.5)", emb))
            if args.gensim_ft_defaults or args.quick:
                gdef = run_child("gensim", dict(spec_base, algo="fasttext", arch=arch))
                print(fmt_row("gensim defaults (lr 0.025, sample 1e-3)", gdef))
            print(fmt_row("fastText C++ (lr 0.05, t 1e-4)", ft))
            print(f"    fastText training alone {ft['train_seconds']:.1f} s")
            print(f"  ratio emb / fastText wall time: {emb['seconds'] / ft['seconds']:.3f} (goal < 1),"
                  f" CPU time {emb['cpu_seconds'] / ft['cpu_seconds']:.3f};"
                  f" WS353 {emb['ws353']:.3f} vs {ft['ws353']:.3f};"
                  f" analogies {100 * emb['analogy']:.1f}% vs {100 * ft['analogy']:.1f}%", flush=True)

        if not args.no_memory:
            print("\n[peak memory of emb train, word2vec skipgram, 1 epoch, against gensim's]", flush=True)
            one = run_emb(files, "word2vec", "skipgram", threads, home, "mem1", extra=("--epochs", "1"))
            p = one["params"]
            gs = run_child("gensim", dict(spec_base, algo="word2vec", arch="skipgram", epochs=1, alpha=p["lr"],
                                          sample=p["sample"], ns_exponent=p.get("ns_exponent")))
            print(fmt_row("emb train (from .xz, all included)", one))
            print(fmt_row("gensim (pre-tokenized text)", gs))
            print(f"  ratio emb / gensim peak memory: process tree {one['peak_rss'] / gs['peak_rss']:.3f},"
                  f" largest process {one['max_rss'] / gs['max_rss']:.3f} (goal <= 1);"
                  f" anonymous memory of the tree {one['peak_anon'] / 1e6:.0f} MB vs {gs['peak_anon'] / 1e6:.0f} MB:"
                  f" {one['peak_anon'] / gs['peak_anon']:.3f};"
                  f" CPU time {one['cpu_seconds'] / gs['cpu_seconds']:.3f}", flush=True)
            three = run_emb(files * 3, "word2vec", "skipgram", threads, home, "mem3", extra=("--epochs", "1"))
            # Every count triples on the corpus x3, so min-count 5 there keeps the words seen 2-4 times
            # in the corpus as well: a larger vocabulary, hence larger matrices. Min-count 15 keeps
            # exactly the vocabulary of the corpus x1 at min-count 5: only the corpus length differs.
            same = run_emb(files * 3, "word2vec", "skipgram", threads, home, "mem3v",
                           extra=("--epochs", "1", "--min-count", str(3 * COMMON["min_count"])))
            print(f"  corpus x1:                  {one['peak_rss'] / 1e6:5.0f} MB in {one['seconds']:5.1f} s,"
                  f" vocabulary {one['vocab']:,}")
            print(f"  corpus x3, same min-count:  {three['peak_rss'] / 1e6:5.0f} MB in {three['seconds']:5.1f} s,"
                  f" vocabulary {three['vocab']:,}: ratio {three['peak_rss'] / one['peak_rss']:.3f}")
            print(f"  corpus x3, same vocabulary: {same['peak_rss'] / 1e6:5.0f} MB in {same['seconds']:5.1f} s,"
                  f" vocabulary {same['vocab']:,}: ratio {same['peak_rss'] / one['peak_rss']:.3f} (goal <= 1.20)")
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
