"""Benchmark: what ``emb compress`` costs and saves, and a cold ``emb neighbors`` on the result.

For each setting (float16, int8, PQ over several subquantizer counts, optionally OPQ) it compresses
the benchmark model into a scratch folder and prints the size ratio, recall@10 of the neighbours of
``--sample`` words against the float32 model, the benchmark scores before -> after, the compression
time, and the median wall time of a fresh ``emb neighbors -m FOLDER WORD`` next to the same query on
the float32 model measured in the same run (ratios, since the machine is shared). Asserts nothing.

Models: the random ``--words`` x 300 model of ``bench/query.py`` (built once into the same cache;
its made-up words know no benchmark set, so analogy and word-pair scores are empty) and, with
``--trained``, a word2vec model trained on sample_data/web.txt.xz (real words; its scores show the
change in analogy accuracy and WS353/SimLex correlation).

With ``--word2vec`` it trains (once, into the cache) a 300-dimension CBOW model of the benchmark
corpus, the real-word model for the PQ curve over M; ``--model FOLDER`` adds any model folder.
With ``--fasttext`` it also trains (once, into the cache) a fastText model on the benchmark corpus
(/work/shared/corpora or ``--corpus``: default 2,000,000 buckets) and prunes it to ``--prune-ngrams``
n-gram rows: size ratio and the median cosine of 1,000 unseen words to the original, per criterion.
With ``--index FOLDER`` it builds (or reuses) the HNSW index of a model folder (``emb index``) and
times a fresh ``emb neighbors`` through it against ``--exact`` and against a bare ``python -c 'import
numpy'`` (the floor of any Python command), wall and CPU, in the same run; ``--index-pq M`` does the
same for a PQ copy of that model (M subquantizers, OPQ) indexed in turn.

    python bench/compress.py                      # 1,000,000 x 300 (the cache of bench/query.py)
    python bench/compress.py --words 100000 --trained
    python bench/compress.py --skip-random --fasttext
    python bench/compress.py --skip-random --word2vec --pq 25,50,75,100,150 --opq --kinds int8
    python bench/compress.py --skip-random --model ~/.cache/emb-bench/bench-fasttext-100 --trained-pq 25,50 --opq
    python bench/compress.py --skip-random --index ~/.cache/emb-bench/emb-1000000x300-hnsw --index-pq 60

``--emb PATH`` times another ``emb``: an editable install (``pip install -e``) runs its import hook at
every start (about 8 ms), which a user's install from the wheel does not. To time what users get,
install the wheel in a venv that sees this venv's packages:

    python -m venv /tmp/wv
    echo "$VIRTUAL_ENV/lib/python3.11/site-packages" > /tmp/wv/lib/python3.11/site-packages/deps.pth
    pip wheel --no-deps -w /tmp/whl . && /tmp/wv/bin/pip install --no-deps /tmp/whl/embcli-*.whl
    python bench/compress.py --skip-random --index FOLDER --emb /tmp/wv/bin/emb
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from query import CPU, EMB, build, wall, warm  # noqa: E402


def settings_for(dim: int, pq: list[int], opq: bool, kinds=("float16", "int8")):
    from embcli.compress import Setting

    out = [Setting(k) for k in kinds]
    for m in pq:
        if dim % m == 0:
            out.append(Setting("pq", m, 8))
            if opq:
                out.append(Setting("pq", m, 8, opq=True))
    return out


def run(folder: Path, scratch: Path, settings, sample: int, runs: int, word: str, benchmarks: bool) -> None:
    from embcli.compress import Baseline, compress
    from embcli.folder import ModelFolder

    model = ModelFolder(folder)
    print(f"\n== {folder.name}: {model.vocab_size:,} x {model.dim} ({model.storage})", flush=True)
    t = time.perf_counter()
    baseline = Baseline(model, sample=sample, benchmarks=benchmarks)
    print(f"baseline (float32 neighbours of {len(baseline.rows)} words, benchmark sets): "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    warm([folder / "vectors.npy", folder / "vocab.txt", folder / "norms.npy"])
    cold32, _ = wall([*EMB, "neighbors", "-m", str(folder), word], runs)
    cpu32 = CPU["last"]
    print(f"cold `emb neighbors` float32: {cold32:.3f} s wall, {cpu32:.3f} s CPU (median of {runs})", flush=True)
    header = ["setting", "MB", "ratio", "vectors ratio", "recall@10", "scores before -> after", "compress s",
              "compress CPU s", "cold neighbors s", "CPU s", "vs float32 (wall; CPU)"]
    print("\t".join(header), flush=True)
    for setting in settings:
        out = scratch / setting.label.replace(" ", "_").replace("=", "")
        t, c = time.perf_counter(), time.process_time()
        cost = compress(model, out, setting, force=True, sample=sample, benchmarks=benchmarks, baseline=baseline)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        warm([p for p in out.iterdir() if p.is_file()])
        cold, _ = wall([*EMB, "neighbors", "-m", str(out), word], runs)
        cpu_cold = CPU["last"]
        scores = "; ".join(
            f"{k.split(':')[1]} {v['before']} -> {v['after']}" for k, v in cost.scores.items() if v["before"] is not None
        ) or "-"
        print("\t".join([
            setting.label, f"{cost.bytes_after / 1e6:.1f}", f"{cost.ratio:.2f}x",
            f"{cost.vector_bytes_before / cost.vector_bytes_after:.2f}x", f"{cost.recall_at_10:.4f}",
            scores, f"{seconds:.1f}", f"{cpu:.1f}", f"{cold:.3f}", f"{cpu_cold:.3f}",
            f"{cold / cold32:.2f}x; {cpu_cold / cpu32:.2f}x",
        ]), flush=True)
        shutil.rmtree(out, ignore_errors=True)


def trained_model(cache: Path) -> Path:
    """A word2vec model (100 dimensions) of the sample corpus, trained once into the cache."""
    folder = cache / "web-w2v-100"
    if not (folder / "meta.json").is_file():
        corpus = HERE.parent / "sample_data" / "web.txt.xz"
        subprocess.run([*EMB, "-q", "train", str(corpus), "--dim", "100", "--epochs", "5", "--output", str(folder),
                        "--force"], check=True)
    return folder


def word2vec_model(cache: Path, corpus: Path) -> Path:
    """A word2vec model (CBOW, 300 dimensions) of the benchmark corpus, trained once into the cache."""
    folder = cache / "bench-w2v-cbow-300"
    if not (folder / "meta.json").is_file():
        files = [str(corpus / f) for f in ("web.txt.xz", "tdavid.txt.xz", "mhcc.txt.xz", "gcide.txt.xz")]
        subprocess.run([*EMB, "-q", "train", *files, "--dim", "300", "--arch", "cbow", "--epochs", "5",
                        "--output", str(folder), "--force"], check=True)
    return folder


def fasttext_model(cache: Path, corpus: Path) -> Path:
    """A fastText model (100 dimensions, 2M buckets) of the benchmark corpus, trained once into the cache."""
    folder = cache / "bench-fasttext-100"
    if not (folder / "meta.json").is_file():
        files = [str(corpus / f) for f in ("web.txt.xz", "tdavid.txt.xz", "mhcc.txt.xz", "gcide.txt.xz")]
        subprocess.run([*EMB, "-q", "train", *files, "--algo", "fasttext", "--output", str(folder), "--force"],
                       check=True)
    return folder


def run_fasttext(folder: Path, scratch: Path, rows: list[int], runs: int) -> None:
    """Prune the n-gram rows of a fastText model: size, unseen-word cosine by criterion, time."""
    from embcli.compress import Setting, compress
    from embcli.folder import ModelFolder

    model = ModelFolder(folder)
    print(f"\n== {folder.name}: {model.vocab_size:,} x {model.dim}, {model.ngrams.shape[0]:,} n-gram rows", flush=True)
    print("\t".join(["setting", "MB before", "MB after", "ratio", "recall@10", "n-gram rows", "kept by",
                     "unseen median cos (words; counts; norm)", "compress s", "CPU s", "cold OOV query s"]), flush=True)
    for to, keep in [("int8", None)] + [(to, n) for n in rows for to in ("float32", "int8")]:
        out = scratch / f"ft-{to}-{keep}"
        t, c = time.perf_counter(), time.process_time()
        cost = compress(model, out, Setting(to), force=True, benchmarks=False, prune_ngrams=keep)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        grams = cost.ngrams or {}
        tried = "; ".join(str(v["median_cosine"]) for v in grams.get("criteria", {}).values()) or "-"
        warm([p for p in out.iterdir() if p.is_file()])
        cold, _ = wall([*EMB, "vector", "-m", str(out), "kingdomish"], runs)
        print("\t".join([
            f"{to} prune {keep}" if keep else to, f"{cost.bytes_before / 1e6:.1f}", f"{cost.bytes_after / 1e6:.1f}",
            f"{cost.ratio:.1f}x", f"{cost.recall_at_10:.4f}", f"{grams.get('rows_after', model.ngrams.shape[0]):,}",
            grams.get("by", "-"), tried, f"{seconds:.1f}", f"{cpu:.1f}", f"{cold:.3f}",
        ]), flush=True)
        shutil.rmtree(out, ignore_errors=True)


def run_index(folder: Path, runs: int, word: str, build_args: list[str], scratch: Path, pq: int | None,
              emb: list[str]) -> None:
    """A fresh ``emb neighbors`` through the HNSW index against --exact and a bare Python, same run;
    with ``pq``, the same for a PQ copy of the model (M = ``pq``, OPQ) with an index of its own."""
    import embcli

    # A wheel install has emb's bytecode compiled; an editable one under PYTHONDONTWRITEBYTECODE
    # compiles every module on every run (about 0.05 s): compile it once, as pip would.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(embcli.__file__).parent)], check=True,
                   stdout=subprocess.DEVNULL)
    _time_index(folder, runs, word, build_args, emb)
    if pq:
        out = scratch / f"pq{pq}"
        t = time.perf_counter()
        subprocess.run([*EMB, "compress", str(folder), "--to", "pq", "--subquantizers", str(pq), "--opq",
                        "--threads", "2", "--no-benchmarks", "--output", str(out), "-q"], check=True)
        print(f"\ncompressed to PQ M={pq} (OPQ) in {time.perf_counter() - t:.1f} s", flush=True)
        _time_index(out, runs, word, build_args, emb)


def interleaved(cmds: list[list[str]], runs: int) -> list[tuple[float, float]]:
    """Median wall and CPU seconds of ``runs`` fresh runs of each command, the commands taking turns
    (after one warm-up round), so that a change in the machine's load falls on all of them alike."""
    import resource

    times: list[list[tuple[float, float]]] = [[] for _ in cmds]
    for i in range(runs + 1):
        for j, cmd in enumerate(cmds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
            spent = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if i:
                times[j].append((spent, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    import statistics

    return [(statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for t in times]


def _time_index(folder: Path, runs: int, word: str, build_args: list[str], emb: list[str]) -> None:
    import json

    info = folder / "ann-index" / "index.json"
    if not info.is_file() or json.loads(info.read_text()).get("format") != 2:
        t = time.perf_counter()
        subprocess.run([*EMB, "index", str(folder), *build_args], check=True)
        print(f"built the index in {time.perf_counter() - t:.1f} s", flush=True)
    meta = json.loads(info.read_text())
    print(f"\n== HNSW index of {folder}: {meta['rows']:,} rows, connectivity {meta['connectivity']}, expansion "
          f"{meta['expansion_add']}/{meta['expansion_search']}, {meta['bytes'] / 1e6:.0f} MB, recall@10 "
          f"{meta['recall_at_10']} on {meta['sampled']} words, built in {meta['seconds']} s", flush=True)
    warm([p for p in folder.iterdir() if p.is_file()] + sorted((folder / "ann-index").iterdir()))
    python = str(Path(emb[0]).parent / "python") if len(emb) == 1 else emb[0]
    (floor, c_floor), (fast, c_fast), (exact, c_exact) = interleaved(
        [[python, "-c", "import numpy"], [*emb, "neighbors", "-m", str(folder), word],
         [*emb, "neighbors", "-m", str(folder), word, "--exact"]], runs)
    print(f"fresh `python -c 'import numpy'`:      {floor:.3f} s wall, {c_floor:.3f} s CPU (the floor)")
    print(f"fresh `emb neighbors {word}` (HNSW):   {fast:.3f} s wall, {c_fast:.3f} s CPU   (target <= 0.15 s)")
    print(f"fresh `emb neighbors {word} --exact`:  {exact:.3f} s wall, {c_exact:.3f} s CPU   HNSW is "
          f"{exact / fast:.1f}x faster (wall), {c_exact / c_fast:.1f}x (CPU)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--words", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--pq", default="25,50,100,150", help="subquantizer counts to try")
    ap.add_argument("--trained-pq", default="10,20,25,50", help="subquantizer counts for --trained")
    ap.add_argument("--opq", action="store_true", help="also optimized PQ for each count")
    ap.add_argument("--kinds", default="float16,int8", help="the non-PQ settings to run")
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--trained", action="store_true", help="also a word2vec model of sample_data")
    ap.add_argument("--word2vec", action="store_true",
                    help="also a 300-dim word2vec (CBOW) model of the benchmark corpus, PQ with --pq")
    ap.add_argument("--model", type=Path, action="append", default=[],
                    help="also this model folder (real words: benchmark scores), PQ with --trained-pq")
    ap.add_argument("--skip-random", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "emb-bench")
    ap.add_argument("--scratch", type=Path, default=None, help="where compressed copies go (default: a temp folder)")
    ap.add_argument("--fasttext", action="store_true", help="also prune a fastText model of the benchmark corpus")
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/corpora"))
    ap.add_argument("--prune-ngrams", default="100000", help="n-gram rows to keep (comma-separated)")
    ap.add_argument("--index", type=Path, default=None, help="a model folder to time through its HNSW index")
    ap.add_argument("--index-args", default="", help="extra `emb index` options when the index is built")
    ap.add_argument("--emb", type=Path, default=None,
                    help="with --index: the emb command to time (e.g. one installed from the wheel in another"
                         " venv: an editable install adds its import hook to every start)")
    ap.add_argument("--index-word", default=None, help="with --index: the query word (default w123 for the random"
                    " model, else king)")
    ap.add_argument("--index-pq", type=int, default=None, metavar="M",
                    help="with --index: also a PQ copy (M subquantizers, OPQ) with an index of its own")
    args = ap.parse_args()
    pq = [int(x) for x in args.pq.split(",") if x]
    scratch = Path(tempfile.mkdtemp(prefix="emb-compress-", dir=args.scratch))
    os.environ.setdefault("EMB_HOME", str(scratch / "home"))
    try:
        if not args.skip_random:
            folder, _ = build(args.cache, args.words, args.dim, 0)
            run(folder, scratch, settings_for(args.dim, pq, args.opq, [k for k in args.kinds.split(",") if k]), args.sample, args.runs, "w123", False)
        if args.trained:
            folder = trained_model(args.cache)
            from embcli.folder import ModelFolder

            dim = ModelFolder(folder).dim
            run(folder, scratch, settings_for(dim, [int(d) for d in args.trained_pq.split(",") if d and dim % int(d) == 0], args.opq,
                             [k for k in args.kinds.split(",") if k]),
                args.sample, args.runs, "king", True)
        if args.word2vec:
            run(word2vec_model(args.cache, args.corpus), scratch, settings_for(300, pq, args.opq,
                [k for k in args.kinds.split(",") if k]), args.sample, args.runs, "king", True)
        for folder in args.model:
            from embcli.folder import ModelFolder

            dim = ModelFolder(folder).dim
            run(folder, scratch, settings_for(dim, [int(d) for d in args.trained_pq.split(",") if d and dim % int(d) == 0],
                                             args.opq, [k for k in args.kinds.split(",") if k]),
                args.sample, args.runs, "king", True)
        if args.fasttext:
            run_fasttext(fasttext_model(args.cache, args.corpus), scratch,
                         [int(n) for n in args.prune_ngrams.split(",") if n], args.runs)
        if args.index:
            run_index(args.index, args.runs, args.index_word or ("w123" if args.index.name.startswith("emb-") else "king"),
                      args.index_args.split(), scratch, args.index_pq, [str(args.emb)] if args.emb else EMB)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
