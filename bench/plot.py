"""Benchmark: `emb plot` (PCA, t-SNE, UMAP; PNG and HTML) and `emb cluster` against plain library scripts.

A V x D model of random vectors (100,000 x 300 by default). Each command runs as a fresh process,
as a person runs it, and is timed from start to exit (wall and CPU). The peers, in the same run and
also fresh processes, do the same projection straight through the libraries (numpy SVD + matplotlib
with every label drawn; scikit-learn's TSNE; umap-learn; scikit-learn's KMeans) on the same unit
vectors; ratios are emb / peer. Targets: `emb plot --top 2000 --method pca` within 3 s; t-SNE and
UMAP of 2,000 words within 30 s on 2 cores.

    python bench/plot.py             # 100,000 x 300
    python bench/plot.py --quick     # 20,000 x 100, and skips UMAP's peer
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PEER = r"""
import sys, time
import numpy as np
folder, method, top, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
v = np.load(folder + "/vectors.npy", mmap_mode="r")[:top].astype(np.float32)
u = v / np.linalg.norm(v, axis=1, keepdims=True)
words = open(folder + "/vocab.txt", encoding="utf-8").read().split("\n")[:top]
if method == "pca":
    x = u - u.mean(0)
    s_u, s, _ = np.linalg.svd(x, full_matrices=False)
    xy = s_u[:, :2] * s[:2]
elif method == "tsne":
    from sklearn.manifold import TSNE
    xy = TSNE(2, init="pca", random_state=0, metric="cosine").fit_transform(u)
elif method == "umap":
    import umap
    xy = umap.UMAP(n_components=2, metric="cosine", random_state=0).fit_transform(u)
elif method == "kmeans":
    from sklearn.cluster import KMeans
    KMeans(100, n_init=1, random_state=0).fit(u)
    sys.exit(0)
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(12, 9))
ax.scatter(xy[:, 0], xy[:, 1], s=6)
for (a, b), w in zip(xy, words):
    ax.annotate(w, (a, b), fontsize=8)
fig.savefig(out, dpi=110)
"""


def build(folder: Path, words: int, dim: int, seed: int) -> None:
    from embcli.folder import write_model

    rng = np.random.default_rng(seed)
    hangul = ["서울", "부산", "김치", "어머니", "아버지", "사과", "바나나", "東京", "大阪", "ひらがな"]
    vocab = hangul + [f"w{i}" for i in range(words - len(hangul))]
    counts = np.arange(words, 0, -1, dtype=np.int64) * 3
    write_model(folder, vocab, rng.standard_normal((words, dim), dtype=np.float32), {"algorithm": "random"},
                counts=counts)


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one fresh process; stops on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=None)
    parser.add_argument("--dim", type=int, default=None)
    parser.add_argument("--top", type=int, default=2000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    words = args.words or (20_000 if args.quick else 100_000)
    dim = args.dim or (100 if args.quick else 300)
    emb = [sys.executable, "-m", "embcli"]
    print(f"model {words:,} x {dim}, {args.top:,} words mapped, {os.cpu_count()} cores;"
          f" load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "model"
        folder.mkdir()
        build(folder, words, dim, 0)
        env = dict(os.environ, EMB_HOME=str(tmp / "home"))
        peer = tmp / "peer.py"
        peer.write_text(PEER)
        rows = []
        cases = [
            ("plot pca png", ["plot", "--top", str(args.top), "--method", "pca", "-o", str(tmp / "a.png")], "pca"),
            ("plot pca html", ["plot", "--top", str(args.top), "--method", "pca", "-o", str(tmp / "a.html")], None),
            ("plot tsne png", ["plot", "--top", str(args.top), "--method", "tsne", "-o", str(tmp / "t.png")], "tsne"),
            ("plot umap png", ["plot", "--top", str(args.top), "--method", "umap", "-o", str(tmp / "u.png")],
             None if args.quick else "umap"),
            ("cluster -k 100 --top 10000", ["cluster", "-k", "100", "--top", "10000"], "kmeans"),
        ]
        for name, cmd, peer_method in cases:
            wall, cpu = timed(emb + cmd + ["-m", str(folder)], env)
            line = f"emb {name:<28} {wall:6.2f} s wall {cpu:6.2f} s CPU"
            if peer_method:
                top = "10000" if peer_method == "kmeans" else str(args.top)
                pw, pc = timed([sys.executable, str(peer), str(folder), peer_method, top, str(tmp / "p.png")], env)
                line += f" | peer {pw:6.2f} s wall {pc:6.2f} s CPU | ratio {wall / pw:4.2f}"
            print(line, flush=True)
            rows.append((name, wall, cpu))
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} at the end (wall time grows with it on a shared machine; CPU time does not)")
    for n, w, c in rows:
        if n == "plot pca png" or "tsne" in n or "umap" in n:
            limit = 3 if "pca" in n else 30
            print(f"target: {n} of {args.top:,} words <= {limit} s: {w:.2f} s wall"
                  f" ({'met' if w <= limit else 'not met'}), {c:.2f} s CPU")


if __name__ == "__main__":
    main()
