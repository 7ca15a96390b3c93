"""Which Korean tokenizer settings give the best vectors: measured on NSMC with a hand-written pair set.

Trains the same word2vec model (skip-gram, 100 dims, window 5, 5 epochs, min count 5, seed 1) on the
first ``--lines`` reviews of ../shared/corpora/nsmc.txt.xz tokenized in several ways:

  unicode        emb's default tokenizer (words between spaces and punctuation)
  ko             every morpheme (kiwipiepy), the default of --tokenizer ko
  ko-content     --pos-filter content: particles, endings and affixes dropped
  ko-tags        --pos-tags: tokens carry their tag (먹/VV)
  ko-typos       kiwi's typo correction (typos="basic"), which emb does not expose
  ko-coda        kiwi's normalize_coda (닼ㅋㅋ -> 다 ㅋㅋ), which emb does not expose

and reports, per variant: tokenizing time, tokens, vocabulary, the share of the corpus's tokens that
the vocabulary covers, how many vocabulary entries are forms of 영화 (fragmentation), and on
bench/data/ko_related_pairs.tsv (related pairs written by hand for this purpose, NOT a validated
similarity set): coverage, the mean percentile of cos(a, b) among cos(a, x) for x in the 10,000 most
frequent words, and hit@10 (b among a's 10 nearest in those words). Query words go through each
model's own normalisation (ko: the analyzer, first content morpheme). Asserts nothing.
"""

from __future__ import annotations

import argparse
import lzma
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from embcli.corpus import Corpus
from embcli.folder import ModelFolder as Model
from embcli.tokenize import TokenizerSettings
from embcli.training.options import TrainOptions
from embcli.training.run import train_to_folder

HERE = Path(__file__).resolve().parent
NSMC = Path(os.environ.get("EMB_BENCH_CORPORA", "/work/shared/corpora")) / "nsmc.txt.xz"
PAIRS = HERE / "data" / "ko_related_pairs.tsv"
TOP = 10_000

EMB_VARIANTS = {
    "unicode": TokenizerSettings(),
    "ko": TokenizerSettings(mode="ko"),
    "ko-content": TokenizerSettings(mode="ko", pos_filter="content"),
    "ko-tags": TokenizerSettings(mode="ko", pos_tags=True),
}
KIWI_VARIANTS = {"ko-typos": {"typos": "basic"}, "ko-coda": {"normalize_coda": True}}


def read_pairs() -> list[tuple[str, str]]:
    out = []
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            a, b = line.split("\t")
            out.append((a, b))
    return out


# ------------------------------------------------------------------ kiwi options emb does not expose

_KIWI = {}


def _kiwi_tokens(text: str, options: dict) -> list[tuple[str, str]]:
    from embcli.morph import _HAS_WORD
    from embcli.morph_text import prepare_text

    if "kiwi" not in _KIWI:
        from kiwipiepy import Kiwi

        _KIWI["kiwi"] = Kiwi(num_workers=0)
    toks = _KIWI["kiwi"].tokenize(prepare_text(text, True), **options)
    return [(t.form, t.tag) for t in toks if _HAS_WORD(t.form) and t.tag != "Z_CODA"]


def _kiwi_block(args) -> str:
    lines, options = args
    out = []
    for line in lines:
        toks = [f for f, _ in _kiwi_tokens(line, options)]
        if toks:
            out.append(" ".join(toks))
    return "\n".join(out) + "\n"


def kiwi_corpus(src: Path, out: Path, options: dict, workers: int) -> None:
    lines = src.read_text(encoding="utf-8").splitlines()
    blocks = [(lines[i : i + 2000], options) for i in range(0, len(lines), 2000)]
    with multiprocessing.get_context("fork").Pool(workers) as pool, open(out, "w", encoding="utf-8") as fh:
        for text in pool.imap(_kiwi_block, blocks):
            fh.write(text)


def kiwi_query(options: dict):
    from embcli.morph import _KO_CONTENT

    def norm(word: str) -> str:
        toks = _kiwi_tokens(word, options)
        content = [f for f, t in toks if t.startswith(_KO_CONTENT)]
        return content[0] if content else (toks[0][0] if toks else word)

    return norm


# ------------------------------------------------------------------------------------- scoring


def score(model: Model, norm, pairs) -> dict:
    top = min(TOP, model.vocab_size)
    units = np.asarray(model.vectors[:top], dtype=np.float32) / model.norms[:top, None]
    found, percentiles, hits = 0, [], 0
    for a, b in pairs:
        ia, ib = model.index_of(norm(a)), model.index_of(norm(b))
        if ia is None or ib is None or ia >= top or ib >= top or ia == ib:
            continue
        found += 1
        sims = units @ units[ia]
        sims[ia] = -np.inf
        target = sims[ib]
        percentiles.append(float((sims < target).sum()) / (top - 2))
        hits += int((sims > target).sum() < 10)
    return {
        "coverage": found / len(pairs),
        "percentile": float(np.mean(percentiles)) if percentiles else float("nan"),
        "hit10": hits / len(pairs),
    }


def describe(model: Model, counts: dict) -> dict:
    words = model.words
    total = counts["tokens"]
    kept = int(np.asarray(model.counts).sum())
    return {
        "vocab": model.vocab_size,
        "kept": kept / total,
        "forms": sum(1 for w in words if w.split("/")[0].startswith("영화")),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--algo", default="word2vec", choices=["word2vec", "fasttext"])
    ap.add_argument("--only", nargs="*", help="variants to run (default: all)")
    args = ap.parse_args()
    pairs = read_pairs()
    names = args.only or list(EMB_VARIANTS) + list(KIWI_VARIANTS)
    options = TrainOptions(
        algo=args.algo, dim=100, window=5, epochs=5, min_count=5, threads=args.threads, seed=1
    ).resolved()
    print(f"nsmc first {args.lines:,} lines, {args.algo}; {len(pairs)} hand-written pairs;"
          f" load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'variant':<11} {'tok s':>6} {'tokens':>9} {'vocab':>7} {'kept':>6} {'영화*':>5}"
          f" {'cover':>6} {'pctile':>6} {'hit@10':>6}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "nsmc.txt"
        with lzma.open(NSMC, "rt", encoding="utf-8") as fh, open(src, "w", encoding="utf-8") as out:
            for i, line in enumerate(fh):
                if i >= args.lines:
                    break
                out.write(line)
        for name in names:
            folder = Path(tmp) / name
            started = time.perf_counter()
            if name in EMB_VARIANTS:
                result = train_to_folder(Corpus([str(src)]), EMB_VARIANTS[name], options, folder)
                tok_s = result.tokenize_seconds
                model = Model(folder)
                norm = model.normalize
            else:
                tokenized = Path(tmp) / f"{name}.txt"
                kiwi_corpus(src, tokenized, KIWI_VARIANTS[name], args.threads)
                tok_s = time.perf_counter() - started
                result = train_to_folder(
                    Corpus([str(tokenized)]), TokenizerSettings(mode="whitespace"), options, folder
                )
                model = Model(folder)
                norm = kiwi_query(KIWI_VARIANTS[name])
            d = describe(model, {"tokens": result.tokens})
            s = score(model, norm, pairs)
            print(f"{name:<11} {tok_s:6.1f} {result.tokens:9,} {d['vocab']:7,} {d['kept']:6.1%} {d['forms']:5}"
                  f" {s['coverage']:6.1%} {s['percentile']:6.3f} {s['hit10']:6.1%}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
