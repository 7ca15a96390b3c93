"""Benchmark: reading and writing vector files, emb against gensim and numpy, in one run.

    python bench/io.py                      # 1,000,000 words x 300 dims (about 8 GB of files, 20+ minutes)
    python bench/io.py --words 100000       # a quick check
    python bench/io.py --skip-gensim-text   # leave out gensim's (slow) text reader

Random float32 vectors and made-up words. Every import runs in a child process, which reports
its time and its peak resident memory (VmHWM); writes run in this process. Prints times and
ratios (gensim time / emb time for word2vec; Parquet time / numpy time for Parquet). Nothing is
asserted: the issue's targets are printed beside the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys, time
from pathlib import Path
kind, path, out = sys.argv[1], sys.argv[2], sys.argv[3]

def hwm_kb():
    # VmHWM: the peak resident size of this process's own memory (ru_maxrss would carry the
    # parent's peak across fork and exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

base = hwm_kb()
if kind.startswith("emb-"):
    import pyarrow.parquet  # libraries load before the clock starts, as gensim and numpy do
    from embcli.formats.convert import read_into
    from embcli.folder import ModelFolder
    Path(out).mkdir()
    t0 = time.perf_counter()
    read_into(path, Path(out), kind[4:])
    rows = ModelFolder(Path(out)).vocab_size
elif kind == "numpy-load":
    import numpy as np
    t0 = time.perf_counter()
    rows = np.load(path).shape[0]
else:
    from gensim.models import KeyedVectors
    t0 = time.perf_counter()
    rows = len(KeyedVectors.load_word2vec_format(path, binary=kind == "gensim-binary"))
spent = time.perf_counter() - t0
peak = hwm_kb()
print(json.dumps({"seconds": spent, "peak_kb": peak, "base_kb": base, "rows": rows}))
"""


def child(kind: str, path: Path, out: Path) -> dict:
    """Run one import in a fresh interpreter; return its seconds, peak memory and row count."""
    os.sync()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path), str(out)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(fn) -> float:
    os.sync()  # start each measurement without the previous one's dirty pages still being written
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--dir", default=None, help="Work folder (default: a temporary one, removed at the end).")
    parser.add_argument("--skip-gensim-text", action="store_true", help="Do not time gensim's text reader.")
    parser.add_argument("--only", choices=["word2vec", "parquet"], help="Only these formats.")
    args = parser.parse_args()

    from gensim.models import KeyedVectors

    from embcli.formats.convert import export_model
    from embcli.folder import ModelFolder
    from embcli.folder import write_model

    work = Path(args.dir or tempfile.mkdtemp(prefix="emb-bench-io-"))
    work.mkdir(parents=True, exist_ok=True)
    n, dim = args.words, args.dim
    rng = np.random.default_rng(0)
    vectors = (rng.standard_normal((n, dim), dtype=np.float32) * 0.3).astype(np.float32)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    stems = ["".join(x) for x in letters[rng.integers(0, 26, size=(n, 6))]]
    words = [f"{s}{i}" for i, s in enumerate(stems)]
    matrix_mb = vectors.nbytes / 1e6
    print(f"emb io benchmark: {n:,} words x {dim} dims (matrix {matrix_mb:,.0f} MB), work folder {work}")
    print(f"python {sys.version.split()[0]}, cpus {os.cpu_count()}; other work may be running on this machine\n")

    src = work / "model"
    src.mkdir()
    write_model(src, words, vectors, {"algorithm": "bench"})
    model = ModelFolder(src)
    kv = KeyedVectors(dim)
    if args.only != "parquet":
        kv.add_vectors(words, vectors)
    del vectors

    rows: list[tuple[str, float, float, str, str]] = []

    def compare(what: str, ours: float, peer: float, peer_name: str, target: str) -> None:
        rows.append((what, ours, peer, peer_name, target))
        print(f"  {what:34s} emb {ours:8.2f} s   {peer_name} {peer:8.2f} s   ratio {peer / ours:5.2f}x  (target {target})",
              flush=True)

    print("writing")
    w2v, w2v_bin, pq, npy = work / "v.txt", work / "v.bin", work / "v.parquet", work / "v.npy"
    gensim_txt, gensim_bin = work / "g.txt", work / "g.bin"
    if args.only != "parquet":
        ours = timed(lambda: export_model(model, str(w2v), "word2vec"))
        peer = timed(lambda: kv.save_word2vec_format(str(gensim_txt)))
        compare("write word2vec text", ours, peer, "gensim", ">= 3x")
        ours = timed(lambda: export_model(model, str(w2v_bin), "word2vec-binary"))
        peer = timed(lambda: kv.save_word2vec_format(str(gensim_bin), binary=True))
        compare("write word2vec binary", ours, peer, "gensim", "none")
    if args.only != "word2vec":
        ours = timed(lambda: export_model(model, str(pq), "parquet"))
        peer = timed(lambda: np.save(npy, np.asarray(model.vectors)))
        rows.append(("write parquet", ours, peer, "numpy.save", "<= 2x numpy"))
        print(f"  {'write parquet':34s} emb {ours:8.2f} s   numpy.save {peer:8.2f} s   parquet/numpy"
              f" {ours / peer:5.2f}x  (target <= 2x)", flush=True)
    del kv
    sizes = {p.name: p.stat().st_size / 1e6 for p in (w2v, w2v_bin, pq, npy, gensim_txt) if p.exists()}
    print("  file sizes (MB): " + ", ".join(f"{k} {v:,.0f}" for k, v in sizes.items()))
    gensim_txt.unlink(missing_ok=True)
    gensim_bin.unlink(missing_ok=True)

    print("\nreading (each in a child process; peak = VmHWM of the child, interpreter and libraries included)")
    peaks: list[tuple[str, float]] = []

    def read_pair(what: str, our_kind: str, path: Path, peer_kind: str | None, target: str, peer_path=None) -> None:
        out = work / f"in-{our_kind}"
        shutil.rmtree(out, ignore_errors=True)
        ours = child(our_kind, path, out)
        assert ours["rows"] == n, ours
        peaks.append((what + " (emb)", ours["peak_kb"] / 1e3))
        shutil.rmtree(out, ignore_errors=True)
        if peer_kind is None:
            return
        peer = child(peer_kind, peer_path or path, work / "unused")
        peaks.append((what + f" ({peer_kind.split('-')[0]})", peer["peak_kb"] / 1e3))
        if peer_kind == "numpy-load":
            rows.append((what, ours["seconds"], peer["seconds"], "numpy.load", target))
            print(f"  {what:34s} emb {ours['seconds']:8.2f} s   numpy.load {peer['seconds']:8.2f} s   parquet/numpy"
                  f" {ours['seconds'] / peer['seconds']:5.2f}x  (target {target})", flush=True)
        else:
            compare(what, ours["seconds"], peer["seconds"], "gensim", target)

    if args.only != "parquet":
        read_pair("read word2vec binary", "emb-word2vec-binary", w2v_bin, "gensim-binary", ">= 1.5x")
        read_pair("read word2vec text", "emb-word2vec", w2v, None if args.skip_gensim_text else "gensim-text", ">= 3x")
        w2v.unlink()
    if args.only != "word2vec":
        read_pair("read parquet", "emb-parquet", pq, "numpy-load", "<= 2x numpy", peer_path=npy)

    print(f"\npeak memory of each import (matrix {matrix_mb:,.0f} MB; target for emb: <= 1.5x)")
    for what, mb in peaks:
        print(f"  {what:40s} {mb:8,.0f} MB   {mb / matrix_mb:5.2f}x the matrix")
    print(f"\nthis process peaked at {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:,.0f} MB")
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
