"""Benchmark phrase detection (``emb phrases``, ``emb train --phrases``) against gensim's ``Phrases``.

Measures, in one run on the same machine:

- one phrase pass over the benchmark corpus tokenized beforehand (the same tokens for both):
  counting, then writing the text with phrases joined. emb reads and writes the token file
  (``embcli.phrasing.phrase_file``); gensim gets the sentences already split in memory (its best
  case), counts them with ``Phrases`` and writes ``phrases[sentence]`` of each. Wall and CPU seconds
  (CPU is steadier on a shared machine), best of ``--repeat``, and the ratios;
- agreement: the phrases found (gensim's ``export_phrases``) and their scores, and the lines written;
- a word2vec model (dim 100, 5 epochs, 2 threads) trained with ``--phrases 1`` against one trained
  without: analogy accuracy (Google analogies, through ``embcli.evaluate``; on all the questions
  each model answers, and on the questions every model answers) and the neighbours of a few phrase
  queries. ``--variants`` adds models with a higher threshold and with connector words.

Prints every figure; asserts nothing. ``--quick`` uses web.txt.xz alone; ``--no-train`` skips the
models. Run as ``python bench/phrases.py`` from the checkout.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

CORPORA = Path(os.environ.get("EMB_BENCH_CORPORA", "/work/shared/corpora"))
ALL_FILES = ["web.txt.xz", "tdavid.txt.xz", "mhcc.txt.xz", "gcide.txt.xz"]
QUERIES = ["new york", "united states", "holy spirit", "right hand", "high priest", "chief priests", "dead sea"]


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def tokenize(files: list[Path], out: Path) -> None:
    from embcli.corpus import Corpus
    from embcli.tokenize import TokenizerSettings
    from embcli.training.options import available_cores
    from embcli.training.prepare import prepare_corpus

    prepare_corpus(Corpus([str(f) for f in files]), TokenizerSettings(), out, workers=available_cores())


def run_emb(src: Path, dst: Path, settings):
    from embcli.phrasing import phrase_file

    return phrase_file(src, dst, settings)


def run_gensim(sentences, dst: Path):
    from gensim.models.phrases import Phrases

    model = Phrases(sentences)  # gensim's defaults: min_count 5, threshold 10, default scoring
    with open(dst, "w", encoding="utf-8") as fh:
        for s in sentences:
            fh.write(" ".join(model[s]) + "\n")
    return model


def speed_and_agreement(tokens: Path, work: Path, repeat: int) -> None:
    from embcli.phrasing import PhraseSettings, phrase_sentences

    settings = PhraseSettings()
    phrase_sentences([["a", "b"]] * 3, settings)  # numba kernels compiled (or loaded) before timing
    with open(tokens, encoding="utf-8") as fh:
        sentences = [line.split() for line in fh]
    n_tokens = sum(map(len, sentences))
    print(f"corpus: {len(sentences):,} sentences, {n_tokens:,} tokens")
    emb_runs, gensim_runs = [], []
    for _ in range(repeat):
        result, wall, cpu = timed(lambda: run_emb(tokens, work / "emb.txt", settings))
        emb_runs.append((wall, cpu))
        model, gwall, gcpu = timed(lambda: run_gensim(sentences, work / "gensim.txt"))
        gensim_runs.append((gwall, gcpu))
        print(f"  run: emb {wall:.2f} s wall {cpu:.2f} s CPU | gensim {gwall:.2f} s wall {gcpu:.2f} s CPU")
    ew, ec = min(w for w, _ in emb_runs), min(c for _, c in emb_runs)
    gw, gc = min(w for w, _ in gensim_runs), min(c for _, c in gensim_runs)
    print(f"phrase pass (count + join + write), best of {repeat}:")
    print(f"  emb     {ew:7.2f} s wall {ec:7.2f} s CPU  {n_tokens / ew / 1e6:5.2f}M tokens/s wall")
    print(f"  gensim  {gw:7.2f} s wall {gc:7.2f} s CPU  {n_tokens / gw / 1e6:5.2f}M tokens/s wall")
    print(f"  speed-up: {gw / ew:.1f}x wall, {gc / ec:.1f}x CPU (target >= 3x)")
    ours = {k.replace(" ", "_"): v for k, v in result.phrases.items()}
    theirs = model.export_phrases()
    same = sum(1 for k, v in ours.items() if k in theirs and abs(theirs[k] - v) <= 1e-9 * abs(v))
    print(f"agreement: {len(ours):,} phrases (emb), {len(theirs):,} (gensim), {same:,} the same with the same score;"
          f" table sizes {result.table_size:,} / {len(model.vocab):,}")
    with open(work / "emb.txt", encoding="utf-8") as a, open(work / "gensim.txt", encoding="utf-8") as b:
        pairs = list(zip(a, b))
    equal = sum(1 for x, y in pairs if x == y)
    print(f"  lines written: {equal:,} of {len(pairs):,} identical")


def train_and_compare(files: list[Path], home: Path, variants: list[tuple[str, dict]]) -> None:
    import embcli

    os.environ["EMB_HOME"] = str(home)
    common = dict(dim=100, epochs=5, threads=2, min_count=5, seed=1)
    models = {}
    for label, extra in [("no phrases", {})] + variants:
        name = "".join(c if c.isalnum() else "-" for c in label).strip("-")
        model, wall, cpu = timed(lambda: embcli.train([str(f) for f in files], name=name, make_default=False,
                                                      **common, **extra))
        models[label] = model
        print(f"word2vec {label}: {len(model):,} words, trained in {wall:.0f} s")
    shared = _common_questions(list(models.values()), home / "common-questions.txt")
    base = {}
    for label, model in models.items():
        rows = {}
        for path, kind in ((_analogies(), "all"), (shared, "common")):
            for r in embcli.evaluate(model, analogies=path):
                if r.section in ("total", "semantic", "syntactic"):
                    rows[(kind, r.section)] = r
        if not base:
            base = rows
        print(f"  {label}: analogy " + "; ".join(
            f"{kind} {section} {100 * r.score:.2f}% ({r.correct}/{r.answered})"
            + ("" if r is base[(kind, section)] else f" {100 * (r.score - base[(kind, section)].score):+.2f}")
            for (kind, section), r in rows.items()))
        meta = model.folder.meta.get("phrases")
        if meta:
            print(f"    phrases: {meta['found'][0]:,} found, {meta['tokens_before']:,} tokens became"
                  f" {meta['tokens_after']:,} in {meta['seconds']:.1f} s")
            for query in QUERIES:
                try:
                    hits = model.neighbors(query, k=5)
                except embcli.EmbError as exc:
                    print(f"    {query!r}: {exc}")
                    continue
                print(f"    {query!r}: " + ", ".join(f"{h.word} {h.score:.2f}" for h in hits))
    print("target: analogy accuracy within 1 point of the model without phrases")


def _common_questions(models, out: Path) -> Path:
    """The analogy questions whose four words every model knows (the same questions for all)."""
    with open(_analogies(), encoding="utf-8") as fh, open(out, "w", encoding="utf-8") as dst:
        for line in fh:
            words = line.split()
            if line.startswith(":") or all(w.lower() in m for m in models for w in words):
                dst.write(line)
    return out


def _analogies():
    from gensim.test.utils import datapath

    return datapath("questions-words.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="web.txt.xz only")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each (best is kept)")
    parser.add_argument("--no-train", action="store_true", help="skip the word2vec models")
    parser.add_argument("--variants", action="store_true",
                        help="also train with --phrase-threshold 50 and with --connector-words english")
    args = parser.parse_args()
    files = [CORPORA / f for f in (["web.txt.xz"] if args.quick else ALL_FILES)]
    with tempfile.TemporaryDirectory(prefix="emb-bench-phrases-") as tmp:
        work = Path(tmp)
        tokens = work / "tokens.txt"
        tokenize(files, tokens)
        speed_and_agreement(tokens, work, args.repeat)
        if not args.no_train:
            variants = [("--phrases 1", {"phrases": 1})]
            if args.variants:
                variants += [("--phrases 1 --phrase-threshold 50", {"phrases": 1, "phrase_threshold": 50.0}),
                             ("--phrases 1 --connector-words english", {"phrases": 1, "connector_words": "english"})]
            train_and_compare(files, work / "home", variants)


if __name__ == "__main__":
    main()
