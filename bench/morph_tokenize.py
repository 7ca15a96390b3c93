"""emb's Korean, Japanese and Chinese tokenizers against calling the analyzer directly.

For each of ``ko`` (kiwipiepy), ``ja`` (fugashi + unidic-lite) and ``zh`` (jieba) whose extra is
installed, on the same lines and with 1 and 2 processes:

  direct   the analyzer called on each line and nothing else, in the fastest form its documentation
           gives for a list of tokens: ``[t.form for t in kiwi.tokenize(line)]``,
           ``Tagger("-Owakati").parse(line).split()`` (MeCab's own space-separated output: about a
           third less time than ``[n.surface for n in Tagger()(line)]``, which this benchmark used
           before and which flattered emb, since emb uses the wakati output), ``jieba.lcut(line)``
           (HMM on, as emb uses it); 2 processes: a fork pool over blocks of 2,048 lines, each
           process loading its own analyzer
  +count   the same, and the tokens counted in one ``collections.Counter`` (its C loop over each
           line's list): the least work that gives a vocabulary, which emb's pass must also do;
           a reference for how much of emb's overhead is that counting, not the figure to meet
  emb      emb's whole tokenizing pass (``prepare_corpus``: read the file, normalise, analyse, drop
           punctuation, count words, write the one-sentence-a-line file), ``workers`` 1 and 2

and prints lines/s and tokens/s of each (each side counting its own tokens: emb drops punctuation)
and emb's overhead: its wall time over the direct wall time, minus one, and the same for CPU time
(this process and its worker processes; the steadier figure on a shared machine); the last column
is emb's CPU overhead over ``+count``. Korean lines are the first
``--lines`` reviews of NSMC; Japanese and Chinese lines are the sentences of bench/data/ja_sentences.txt
and zh_sentences.txt (written for this benchmark), two at a time in a fixed shuffled order, repeated
to ``--lines``. Runs alternate direct, emb and +count ``--repeat`` times and keep the best of each (the
machine is shared). Both sides include loading the analyzer (kiwi: about two seconds with its first line) once, before forking.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import lzma
import multiprocessing
import os
import random
import resource
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

from embcli.corpus import Corpus
from embcli.errors import EmbError
from embcli.tokenize import TokenizerSettings
from embcli.training.prepare import BLOCK_LINES, WARM_UP, prepare_corpus

HERE = Path(__file__).resolve().parent
NSMC = Path(os.environ.get("EMB_BENCH_CORPORA", "/work/shared/corpora")) / "nsmc.txt.xz"


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

            with warnings.catch_warnings():  # kiwi warns that 0 meant "all cores" before 0.21
                warnings.simplefilter("ignore", DeprecationWarning)
                kiwi = Kiwi(num_workers=0)
            _STATE[lang] = lambda line: [t.form for t in kiwi.tokenize(line)]
        elif lang == "ja":
            import fugashi

            parse = fugashi.Tagger("-Owakati").parse
            _STATE[lang] = lambda line: parse(line).split()
        else:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _STATE[lang] = jieba.lcut
    return _STATE[lang]


def _direct_block(args) -> int | Counter:
    lang, lines, count = args
    split = _direct_split(lang)
    if not count:
        return sum(len(split(line)) for line in lines)
    counts: Counter = Counter()
    update = counts.update
    for line in lines:
        update(split(line))
    return counts


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (steadier than wall time on a busy machine).
    From getrusage, to the microsecond: os.times counts in clock ticks, 10 ms, 5% of a 20,000-line run."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def run_direct(lang: str, lines: list[str], procs: int, count: bool = False) -> tuple[float, float, int]:
    """The analyzer alone; ``count``: and its tokens counted (each process its own Counter, merged)."""
    # The analyzer is loaded anew in each run, once: in this process, and with 2 processes loaded and
    # run on one line before forking the pool (kiwi's first line costs more than a second), as emb
    # does before forking its workers; jieba's dictionary, a global, is loaded once beforehand for
    # both sides.
    _STATE.pop(lang, None)
    cpu, started = _cpu(), time.perf_counter()
    if procs == 1:
        results = [_direct_block((lang, lines, count))]
    else:
        blocks = [(lang, lines[i : i + BLOCK_LINES], count) for i in range(0, len(lines), BLOCK_LINES)]
        _direct_split(lang)(WARM_UP)  # loaded and warmed up before the fork, shared, as emb does
        pool = multiprocessing.get_context("fork").Pool(procs)
        results = list(pool.imap(_direct_block, blocks))
        pool.close()
        pool.join()  # reaped, so their CPU time is counted
    if count:
        total: Counter = Counter()
        for counts in results:
            total.update(counts)
        tokens = sum(total.values())
    else:
        tokens = sum(results)
    return time.perf_counter() - started, _cpu() - cpu, tokens


def run_emb(lang: str, path: Path, out: Path, procs: int) -> tuple[float, float, int]:
    from embcli import morph

    morph._kiwi.cache_clear()  # loaded anew, as the direct side does
    morph._tagger.cache_clear()
    morph._mecab.cache_clear()
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
          f"  {'overhead wall':>13} {'overhead CPU':>12} {'CPU over +count':>15}")
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
                direct, counted, emb = [], [], []
                for _ in range(args.repeat):
                    direct.append(run_direct(lang, lines, procs))
                    emb.append(run_emb(lang, path, Path(tmp) / "out.txt", procs))
                    counted.append(run_direct(lang, lines, procs, count=True))
                d_wall, d_tokens = min(w for w, _, _ in direct), direct[0][2]
                e_wall, e_tokens = min(w for w, _, _ in emb), emb[0][2]
                d_cpu, e_cpu = min(c for _, c, _ in direct), min(c for _, c, _ in emb)
                c_cpu = min(c for _, c, _ in counted)
                n = len(lines)
                print(f"{lang:<4} {procs:>5}  {n / d_wall:14,.0f} {d_tokens / d_wall:9,.0f}"
                      f"  {n / e_wall:11,.0f} {e_tokens / e_wall:9,.0f}  {e_wall / d_wall - 1:+13.1%}"
                      f" {e_cpu / d_cpu - 1:+12.1%} {e_cpu / c_cpu - 1:+15.1%}", flush=True)


if __name__ == "__main__":
    main()
