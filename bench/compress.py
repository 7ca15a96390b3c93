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

    python bench/compress.py                      # 1,000,000 x 300 (the cache of bench/query.py)
    python bench/compress.py --words 100000 --trained
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

from query import EMB, build, wall, warm  # noqa: E402


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
    print(f"cold `emb neighbors` float32: {cold32:.3f} s (median of {runs})", flush=True)
    header = ["setting", "MB", "ratio", "vectors ratio", "recall@10", "scores before -> after", "compress s", "cold neighbors s",
              "vs float32"]
    print("\t".join(header), flush=True)
    for setting in settings:
        out = scratch / setting.label.replace(" ", "_").replace("=", "")
        t = time.perf_counter()
        cost = compress(model, out, setting, force=True, sample=sample, benchmarks=benchmarks, baseline=baseline)
        seconds = time.perf_counter() - t
        warm([p for p in out.iterdir() if p.is_file()])
        cold, _ = wall([*EMB, "neighbors", "-m", str(out), word], runs)
        scores = "; ".join(
            f"{k.split(':')[1]} {v['before']} -> {v['after']}" for k, v in cost.scores.items() if v["before"] is not None
        ) or "-"
        print("\t".join([
            setting.label, f"{cost.bytes_after / 1e6:.1f}", f"{cost.ratio:.2f}x",
            f"{cost.vector_bytes_before / cost.vector_bytes_after:.2f}x", f"{cost.recall_at_10:.4f}",
            scores, f"{seconds:.1f}", f"{cold:.3f}", f"{cold / cold32:.2f}x",
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
    ap.add_argument("--skip-random", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "emb-bench")
    ap.add_argument("--scratch", type=Path, default=None, help="where compressed copies go (default: a temp folder)")
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
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
