"""Which settings give gensim's FastText the quality of Facebook's fastText? (learning rate, sampling, ...)

Trains gensim FastText (skip-gram, dim 100, window 5, 5 epochs, min-count 5) on web.txt.xz tokenized
by emb, once per setting, and fastText's C++ core with its own defaults, and prints time, WS353
Spearman and analogy accuracy of each. ``--quick`` tries fewer settings. Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as bench  # noqa: E402

SETTINGS = [
    ("gensim defaults", dict(alpha=0.025, sample=1e-3)),
    ("lr 0.05, sample 1e-3", dict(alpha=0.05, sample=1e-3)),
    ("lr 0.025, sample 1e-4", dict(alpha=0.025, sample=1e-4)),
    ("lr 0.05, sample 1e-4", dict(alpha=0.05, sample=1e-4)),
    ("lr 0.05, sample 1e-4, ns_exponent 0.5 (emb)", dict(alpha=0.05, sample=1e-4, ns_exponent=0.5)),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="gensim defaults, emb defaults and fastText only")
    ap.add_argument("--threads", type=int, default=bench.cores())
    ap.add_argument("--corpus", nargs="+", default=[str(bench.CORPORA / "web.txt.xz")])
    args = ap.parse_args()
    settings = [SETTINGS[0], SETTINGS[4]] if args.quick else SETTINGS
    work = Path(tempfile.mkdtemp(prefix="emb-ftdef-"))
    try:
        tokfile = work / "tokenized.txt"
        tok = bench.tokenize_beforehand([Path(c) for c in args.corpus], tokfile)
        print(f"corpus {', '.join(Path(c).name for c in args.corpus)}: {tok['tokens']:,} tokens;"
              f" threads {args.threads}", flush=True)
        base = dict(corpus_file=str(tokfile), threads=args.threads, algo="fasttext", arch="skipgram",
                    **bench.COMMON)
        for label, extra in settings:
            r = bench.run_child("gensim", dict(base, **extra))
            print(bench.fmt_row(f"gensim {label}", r), flush=True)
        r = bench.run_child("fasttext", base)
        print(bench.fmt_row("fastText C++ defaults (lr 0.05, t 1e-4)", r), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
