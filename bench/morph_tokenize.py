"""emb's Korean, Japanese and Chinese tokenizers against calling the analyzer directly.

For each of ``ko`` (kiwipiepy), ``ja`` (fugashi + unidic-lite) and ``zh`` (jieba) whose extra is
installed, on the same lines and with 1 and 2 processes:

  direct   the analyzer called on each line and nothing else: ``[t.form for t in kiwi.tokenize(line)]``,
           ``[n.surface for n in tagger(line)]``, ``jieba.lcut(line)``; 2 processes: a fork pool over
           blocks of 2,048 lines, each process loading its own analyzer
  emb      emb's whole tokenizing pass (``prepare_corpus``: read the file, normalise, analyse, drop
           punctuation, count words, write the one-sentence-a-line file), ``workers`` 1 and 2

and prints lines/s and tokens/s of each (each side counting its own tokens: emb drops punctuation)
and emb's overhead: its wall time over the direct wall time, minus one, and the same for CPU time
(this process and its worker processes; the steadier figure on a shared machine). Korean lines are the first
``--lines`` reviews of NSMC; Japanese and Chinese lines are the sentences of bench/data/ja_sentences.txt
and zh_sentences.txt (written for this benchmark), two at a time in a fixed shuffled order, repeated
to ``--lines``. Runs alternate direct and emb ``--repeat`` times and keep the best of each (the
machine is shared). Both sides include loading the analyzer (kiwi: under a second) in each process.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import lzma
import multiprocessing
import os
import random
import tempfile
import time
from pathlib import Path

from embcli.corpus import Corpus
from embcli.errors import EmbError
from embcli.tokenize import TokenizerSettings
from embcli.training.prepare import BLOCK_LINES, prepare_corpus

HERE = Path(__file__).resolve().parent
NSMC = HERE.parent.parent.parent / "shared" / "corpora" / "nsmc.txt.xz"


def korean_lines(n: int) -> list[str]:
    out = []
    with lzma.open(NSMC, "rt", encoding="utf-8") as fh:
        for line in fh:
            out.append(line.rstrip("\n"))
            if len(out) >= n:
                break
    return out


def written_lines(name: str, n: int) -> list[str]:
    sentences = (HERE / "data" / name).read_text(encoding="utf-8").split()
    rng = random.Random(1)
    out = []
    while len(out) < n:
        rng.shuffle(sentences)
        out.extend(a + b for a, b in zip(sentences[::2], sentences[1::2]))
    return out[:n]


# ---------------------------------------------------------------------------- direct analyzers

_STATE: dict = {}


def _direct_split(lang: str):
    """The analyzer itself, loaded once per process, as a function from a line to its tokens."""
    if lang not in _STATE:
        if lang == "ko":
            from kiwipiepy import Kiwi

            kiwi = Kiwi(num_workers=0)
            _STATE[lang] = lambda line: [t.form for t in kiwi.tokenize(line)]
        elif lang == "ja":
            import fugashi

            tagger = fugashi.Tagger()
            _STATE[lang] = lambda line: [n.surface for n in tagger(line)]
        else:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _STATE[lang] = jieba.lcut
    return _STATE[lang]


def _direct_block(args) -> int:
    lang, lines = args
    split = _direct_split(lang)
    return sum(len(split(line)) for line in lines)


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (steadier than wall time on a busy machine)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_direct(lang: str, lines: list[str], procs: int) -> tuple[float, float, int]:
    # Each process loads its own analyzer, as emb's workers do (jieba's dictionary, a global, is
    # loaded once beforehand for both sides).
    _STATE.pop(lang, None)
    cpu, started = _cpu(), time.perf_counter()
    if procs == 1:
        tokens = _direct_block((lang, lines))
    else:
        blocks = [(lang, lines[i : i + BLOCK_LINES]) for i in range(0, len(lines), BLOCK_LINES)]
        pool = multiprocessing.get_context("fork").Pool(procs)
        tokens = sum(pool.imap(_direct_block, blocks))
        pool.close()
        pool.join()  # reaped, so their CPU time is counted
    return time.perf_counter() - started, _cpu() - cpu, tokens


def run_emb(lang: str, path: Path, out: Path, procs: int) -> tuple[float, float, int]:
    from embcli import morph

    morph._kiwi.cache_clear()  # loaded anew, as the direct side does
    morph._tagger.cache_clear()
    cpu, started = _cpu(), time.perf_counter()
    prepared = prepare_corpus(Corpus([str(path)]), TokenizerSettings(mode=lang), out, workers=procs)
    return time.perf_counter() - started, _cpu() - cpu, prepared.stats.tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--langs", nargs="+", default=["ko", "ja", "zh"])
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"{args.lines:,} lines per language; best of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'lang':<4} {'procs':>5}  {'direct lines/s':>14} {'tokens/s':>9}  {'emb lines/s':>11} {'tokens/s':>9}"
          f"  {'overhead wall':>13} {'overhead CPU':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for lang in args.langs:
            try:
                TokenizerSettings(mode=lang).check_installed()
            except EmbError as exc:
                print(f"{lang:<4} skipped: {exc}")
                continue
            if lang == "ko":
                lines = korean_lines(args.lines)
            else:
                lines = written_lines(f"{lang}_sentences.txt", args.lines)
            if lang == "zh":
                _direct_split("zh")
            path = Path(tmp) / f"{lang}.txt"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            for procs in args.procs:
                direct, emb = [], []
                for _ in range(args.repeat):
                    direct.append(run_direct(lang, lines, procs))
                    emb.append(run_emb(lang, path, Path(tmp) / "out.txt", procs))
                d_wall, d_tokens = min(w for w, _, _ in direct), direct[0][2]
                e_wall, e_tokens = min(w for w, _, _ in emb), emb[0][2]
                d_cpu, e_cpu = min(c for _, c, _ in direct), min(c for _, c, _ in emb)
                n = len(lines)
                print(f"{lang:<4} {procs:>5}  {n / d_wall:14,.0f} {d_tokens / d_wall:9,.0f}"
                      f"  {n / e_wall:11,.0f} {e_tokens / e_wall:9,.0f}  {e_wall / d_wall - 1:+13.1%}"
                      f" {e_cpu / d_cpu - 1:+12.1%}", flush=True)


if __name__ == "__main__":
    main()
