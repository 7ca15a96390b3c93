"""The tokenizing pass of ``emb train`` alone: one process against a pool of worker processes.

Runs ``prepare_corpus`` (read, decompress, tokenize, count, write the temporary file) on the shared
corpora with 1 and with N workers, and prints wall time, tokens per second and the speed-up. Checks
that both passes wrote the same file. ``--quick``: web.txt.xz only. Asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as bench  # noqa: E402

from embcli.corpus import Corpus  # noqa: E402
from embcli.tokenize import TokenizerSettings  # noqa: E402
from embcli.training.prepare import prepare_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="web.txt.xz only")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, bench.cores()])
    args = ap.parse_args()
    files = [str(bench.CORPORA / f) for f in (["web.txt.xz"] if args.quick else bench.ALL_FILES)]
    print(f"corpus {', '.join(Path(f).name for f in files)}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        outputs, walls = [], {}
        for workers in args.workers:
            out = Path(tmp) / f"w{workers}.txt"
            cpu0 = os.times()
            started = time.perf_counter()
            prepared = prepare_corpus(Corpus(files), TokenizerSettings(), out, workers=workers)
            wall = time.perf_counter() - started
            cpu1 = os.times()
            cpu = sum(cpu1[:4]) - sum(cpu0[:4])
            tokens = prepared.stats.tokens
            walls[workers] = wall
            print(f"  workers {workers}: {wall:6.2f} s wall, {cpu:6.2f} s CPU (all processes),"
                  f" {tokens / wall / 1e6:5.2f} M tokens/s, {tokens / wall / workers / 1e6:5.2f} M tokens/s per worker"
                  f" ({tokens:,} tokens, {prepared.sentences:,} sentences)", flush=True)
            outputs.append(out)
        same = all(filecmp.cmp(outputs[0], o, shallow=False) for o in outputs[1:])
        base = args.workers[0]
        for workers in args.workers[1:]:
            print(f"  speed-up {workers} workers vs {base}: {walls[base] / walls[workers]:.2f}x")
        print(f"  identical output files: {same}")


if __name__ == "__main__":
    main()
