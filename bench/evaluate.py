"""Benchmark: `emb evaluate`'s analogy scoring against gensim's evaluate_word_analogies.

A V x D model of random vectors whose vocabulary holds every word of the Google analogy set (at
random ranks) plus made-up words; both tools score the same vectors on questions-words.txt in this
run. Prints both times, the speed ratio and both accuracies (which must be identical).

    python bench/evaluate.py                 # 100,000 x 300, as the project's target says
    python bench/evaluate.py --words 20000   # a quick check
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def build(folder: Path, words: int, dim: int, seed: int) -> list[str]:
    from gensim.test.utils import datapath

    from embcli.folder import write_model

    rng = np.random.default_rng(seed)
    real = sorted({w.lower() for line in open(datapath("questions-words.txt"), encoding="utf-8")
                   if not line.startswith(":") for w in line.split()})
    vocab = [f"w{i}" for i in range(words - len(real))]
    for w, pos in zip(real, rng.choice(words - len(real), size=len(real), replace=False)):
        vocab.insert(int(pos), w)
    vectors = rng.standard_normal((words, dim), dtype=np.float32)
    # Give the analogy words some of the structure the questions test (b = a + relation + noise),
    # so accuracy is well above zero and its equality between the two tools means something.
    row = {w: i for i, w in enumerate(vocab)}
    done: set[str] = set()
    relation = None
    for line in open(datapath("questions-words.txt"), encoding="utf-8"):
        if line.startswith(":"):
            relation = rng.standard_normal(dim, dtype=np.float32)
            continue
        a, b, c, d = line.lower().split()
        for x, y in ((a, b), (c, d)):
            if y not in done:
                vectors[row[y]] = vectors[row[x]] + relation + 0.8 * rng.standard_normal(dim, dtype=np.float32)
                done.add(y)
    write_model(folder, vocab, vectors, {"algorithm": "random"})
    return vocab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    from embcli.evaluation import evaluate_analogies
    from embcli.folder import ModelFolder

    path = datapath("questions-words.txt")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        folder.mkdir()
        vocab = build(folder, args.words, args.dim, args.seed)

        start = time.perf_counter()
        model = ModelFolder(folder)
        ours = evaluate_analogies(model, path)
        emb_s = time.perf_counter() - start

        kv = KeyedVectors(args.dim)
        kv.add_vectors(vocab, np.load(folder / "vectors.npy"))
        start = time.perf_counter()
        score, _ = kv.evaluate_word_analogies(path)
        gensim_s = time.perf_counter() - start

    print(f"model: {args.words:,} x {args.dim}, questions answered: {ours.total.answered:,} of {ours.total.questions:,}")
    print(f"gensim evaluate_word_analogies: {gensim_s:8.2f} s  accuracy {score:.6f}")
    print(f"emb evaluate_analogies:         {emb_s:8.2f} s  accuracy {ours.total.accuracy:.6f}")
    print(f"speed-up: {gensim_s / emb_s:.1f}x (target: at least 5x); identical accuracy: {score == ours.total.accuracy}")


if __name__ == "__main__":
    main()
