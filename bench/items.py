"""Next-item prediction on the synthetic sessions: which training options matter for items.

Trains word2vec (skip-gram) on ``sample_data/sessions.txt.xz`` with several settings, then for
``--held-out`` new sessions (the same generator, another seed) embeds every session but its last
item (mean pooling: the user vector), ranks all items by ``emb search``'s cosine, leaves out the items
already in the session, and counts how often the last item is among the first 10 (hit rate at 10)
and its mean reciprocal rank. A popularity baseline (the 10 most frequent items not in the session)
runs in the same pass. The data are synthetic (``scripts/gen_sessions.py``): the figures compare
settings, they say nothing of real shops.

    python bench/items.py
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import lzma
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = ROOT / "sample_data" / "sessions.txt.xz"
ITEMS = ROOT / "sample_data" / "items.txt"

SETTINGS = [
    ("text defaults: window 5, sample 1e-3, ns 0.75", dict(window=5, sample=1e-3, ns_exponent=0.75)),
    ("window 25", dict(window=25, sample=1e-3, ns_exponent=0.75)),
    ("window 25, sample 0", dict(window=25, sample=0.0, ns_exponent=0.75)),
    ("window 25, sample 0, ns 0", dict(window=25, sample=0.0, ns_exponent=0.0)),
    ("window 25, sample 0, ns -0.5", dict(window=25, sample=0.0, ns_exponent=-0.5)),
]


def held_out(n: int, seed: int) -> list[list[str]]:
    spec = importlib.util.spec_from_file_location("gen_sessions", ROOT / "scripts" / "gen_sessions.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = []
    for line in gen.sessions(n * 3, seed):
        items = line.split()
        if len(items) >= 3 and items[-1] not in items[:-1]:
            out.append(items)
        if len(out) == n:
            break
    return out


def evaluate(folder: Path, sessions: list[list[str]], k: int = 10) -> tuple[float, float]:
    from embcli.docsearch import open_docs, search_docs
    from embcli.folder import ModelFolder

    model = ModelFolder(folder)
    docs = open_docs(model, str(ITEMS))
    queries = [" ".join(s[:-1]) for s in sessions]
    results = search_docs(model, docs, queries, k=k + 25)
    hits, rr = 0, 0.0
    for s, res in zip(sessions, results):
        seen = set(s[:-1])
        ranked = [h.text for h in res.hits if h.text not in seen][:k]
        if s[-1] in ranked:
            hits += 1
            rr += 1 / (ranked.index(s[-1]) + 1)
    return hits / len(sessions), rr / len(sessions)


def popularity(sessions: list[list[str]], k: int = 10) -> float:
    with lzma.open(SESSIONS, "rt", encoding="utf-8") as fh:
        counts = collections.Counter(t for line in fh for t in line.split())
    ranked = [w for w, _ in counts.most_common()]
    hits = 0
    for s in sessions:
        seen = set(s[:-1])
        hits += s[-1] in [w for w in ranked[: k + 25] if w not in seen][:k]
    return hits / len(sessions)


def main() -> None:
    from embcli.corpus import Corpus
    from embcli.tokenize import TokenizerSettings
    from embcli.train.options import TrainOptions
    from embcli.train.run import train_to_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    sessions = held_out(args.held_out, seed=99)
    print(f"{len(sessions)} held-out synthetic sessions; hit rate at 10 and MRR of the last item\n")
    print(f"{'setting':<48} {'HR@10':>7} {'MRR':>7} {'train s':>8}")
    print(f"{'popularity (most frequent unseen items)':<48} {popularity(sessions):>7.3f}")
    for name, extra in SETTINGS:
        scores = []
        for seed in range(1, args.seeds + 1):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "m"
                options = TrainOptions(algo="word2vec", dim=32, epochs=args.epochs, min_count=1, threads=2,
                                       seed=seed, **extra)
                start = time.perf_counter()
                train_to_folder(Corpus([str(SESSIONS)]), TokenizerSettings(mode="whitespace"), options, folder)
                seconds = time.perf_counter() - start
                scores.append((*evaluate(folder, sessions), seconds))
        hr, mrr, secs = (float(np.mean([s[i] for s in scores])) for i in range(3))
        print(f"{name:<48} {hr:>7.3f} {mrr:>7.3f} {secs:>8.1f}")


if __name__ == "__main__":
    main()
