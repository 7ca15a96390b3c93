"""Benchmark ``emb train --continue``: train on the first half of the benchmark corpus, continue on
the second half, and compare with training on the whole corpus at once, and with gensim's
``build_vocab(update=True)`` + ``train`` on the same halves.

Measures, in one run on the same machine (every training a subprocess, wall and CPU seconds):

- analogy accuracy (Google analogies), WS353 and SimLex-999 Spearman (``embcli.evaluate``, the same
  code for every model) of: emb on the whole corpus, on the first half, first half continued on the
  second, and gensim's whole / first half / first half updated with the second;
- the neighbours of a few words that occur only in the second half, in the continued and the
  whole-corpus models;
- the cost of continuing against training the second half alone from scratch and the whole corpus
  (continuing should cost about what the second half costs: time in proportion to the new text).

The halves are by default the first and the second half of each of the four English files
(``--split concat``: of the four files concatenated in order, where the second half is mostly the
dictionary). Prints every figure and the differences; asserts nothing. Run as
``python bench/continue.py [--algo word2vec] [--threads 2]`` from the checkout (needs gensim and psutil).
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shlex
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train as bench  # noqa: E402

SETTINGS = dict(dim=100, window=5, epochs=5, negative=5, min_count=5)
SHOW = 6  # words of the second half only whose neighbours are shown


def split_corpus(work: Path, split: str) -> tuple[Path, Path, Path]:
    """The benchmark corpus as one text file (the four files in order) and its two halves.

    ``split="files"``: the first half of every file, then the second halves (new text of the same
    kinds); ``"concat"``: the first and second half of the concatenation (the second half is mostly
    the dictionary, a change of domain). Halves are cut by bytes at a line end.
    """
    whole, first, second = work / "whole.txt", work / "first.txt", work / "second.txt"
    with open(whole, "wb") as w, open(first, "wb") as f, open(second, "wb") as s:
        parts = []
        for name in bench.ALL_FILES:
            with lzma.open(bench.CORPORA / name) as fh:
                data = fh.read()
            data = data if data.endswith(b"\n") else data + b"\n"
            w.write(data)
            parts.append(data)
        if split == "concat":
            parts = [b"".join(parts)]
        for data in parts:
            cut = data.index(b"\n", len(data) // 2) + 1
            f.write(data[:cut])
            s.write(data[cut:])
    return whole, first, second


def tokenize(src: Path, dst: Path) -> Counter:
    """``src`` tokenized by emb's default tokenizer into ``dst`` (for gensim), with the counts."""
    from embcli.tokenize import TokenizerSettings, make_tokenizer

    split = make_tokenizer(TokenizerSettings())
    counts: Counter = Counter()
    with open(src, encoding="utf-8") as fh, open(dst, "w", encoding="utf-8") as out:
        for line in fh:
            toks = split(line)
            if toks:
                counts.update(toks)
                out.write(" ".join(toks) + "\n")
    return counts


def emb(args: list[str], home: Path) -> dict:
    env = dict(os.environ, EMB_HOME=str(home))
    return bench.run_measured([sys.executable, "-m", "embcli", "train", *args, "-q"], env=env)


def child_gensim(spec: dict) -> None:
    """gensim Word2Vec on the first file, then (``second``) build_vocab(update=True) + train on the second."""
    from gensim.models import Word2Vec

    common = dict(vector_size=spec["dim"], window=spec["window"], negative=spec["negative"],
                  min_count=spec["min_count"], sg=1, workers=spec["threads"], epochs=spec["epochs"], seed=spec["seed"])
    model = Word2Vec(corpus_file=spec["first"], **common)
    model.wv.save_word2vec_format(spec["out_first"])
    if spec.get("second"):
        model.build_vocab(corpus_file=spec["second"], update=True)
        model.train(corpus_file=spec["second"], total_words=model.corpus_total_words,
                    total_examples=model.corpus_count, epochs=model.epochs)
        model.wv.save_word2vec_format(spec["out"])


def scores(spec: str) -> dict:
    """Analogy accuracy and WS353 / SimLex Spearman by ``embcli.evaluate`` (unknown words skipped)."""
    import embcli

    out = {}
    for row in embcli.evaluate(spec):
        if row.kind == "analogy-add" and row.section == "total":
            out["analogy"], out["analogy_n"] = row.score, row.answered
        elif row.dataset.startswith("wordsim"):
            out["ws353"] = row.score
        elif row.dataset.startswith("simlex"):
            out["simlex"] = row.score
    return out


def neighbours(spec: str, words: list[str], k: int = 5) -> dict:
    import embcli

    model = embcli.load(spec)
    out = {}
    for w in words:
        try:
            out[w] = [n.word for n in model.neighbors(w, k=k)]
        except embcli.EmbError:
            out[w] = None
    return out


def row(label: str, figures: dict, run: dict | None) -> str:
    cost = "" if run is None else f"  wall {run['seconds']:7.1f} s  CPU {run['cpu_seconds']:7.1f} s"
    return (f"  {label:<34} analogy {figures['analogy']:.4f} (n={figures['analogy_n']:5d})"
            f"  WS353 {figures['ws353']:.4f}  SimLex {figures['simlex']:.4f}{cost}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--algo", default="word2vec", choices=["word2vec", "fasttext", "glove"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="of every training, emb's and gensim's")
    ap.add_argument("--part", choices=["all", "emb", "gensim"], default="all",
                    help="run emb's models, gensim's (word2vec only), or both (the default)")
    ap.add_argument("--split", choices=["files", "concat"], default="files",
                    help="halves of every file (default) or of the concatenation (a change of domain)")
    ap.add_argument("--continue-args", default="",
                    help="more options for the continued run only, as one string: '--new-weight 0.6', '--epochs 7'")
    args = ap.parse_args()
    settings = dict(SETTINGS)
    if args.algo == "glove":
        # GloVe's own defaults (Stanford's): at word2vec's 5 epochs and window 5 it learns next to
        # nothing (analogy under 1%), and the comparison would say nothing.
        settings.pop("negative")
        settings.update(window=10, epochs=15)
    common = ["--algo", args.algo, "--threads", str(args.threads), "--seed", str(args.seed)] + [
        x for k, v in settings.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    with tempfile.TemporaryDirectory(prefix="emb-bench-continue-") as tmp:
        work = Path(tmp)
        home = work / "home"
        os.environ["EMB_HOME"] = str(home)  # also where evaluating a vector file caches it
        whole, first, second = split_corpus(work, args.split)
        c1 = tokenize(first, work / "first.tok")
        c2 = tokenize(second, work / "second.tok")
        print(f"halves: {sum(c1.values()):,} + {sum(c2.values()):,} tokens"
              f" ({first.stat().st_size / 1e6:.1f} + {second.stat().st_size / 1e6:.1f} MB);"
              f" split {args.split}; settings {settings}, --threads {args.threads}, --seed {args.seed},"
              f" algo {args.algo}" + (f", continued with {args.continue_args}" if args.continue_args else ""), flush=True)
        if args.part != "gensim":
            only, c = run_emb_part(args, common, home, whole, first, second, c1, c2)
        else:
            only, c = second_only(c1, c2), None
        if args.algo == "word2vec" and args.part != "emb":
            run_gensim_part(args, work, only, c)


def second_only(c1: Counter, c2: Counter) -> list[str]:
    """The most frequent words (at least 20 times) of the second half that the first never has."""
    return [wd for wd, n in c2.most_common() if n >= 20 and wd not in c1 and wd.isalpha()][:SHOW]


def run_emb_part(args, common, home, whole, first, second, c1, c2):
    """emb on the whole corpus, the first half, continued, and the second half alone; neighbours."""
    runs = {
        "whole": emb([str(whole), *common, "--name", "whole"], home),
        "first": emb([str(first), *common, "--name", "first"], home),
        # Only the options that may change are given: the rest come from the saved model.
        "continued": emb([str(second), "--continue", "first", "--name", "continued",
                          "--threads", str(args.threads), *shlex.split(args.continue_args)], home),
        "second": emb([str(second), *common, "--name", "second"], home),
    }
    models = {k: str(home / "models" / k) for k in runs}
    figures = {k: scores(v) for k, v in models.items()}
    print(f"\n[emb {args.algo}]")
    for key, label in (("whole", "whole corpus at once"), ("first", "first half"),
                       ("continued", "first half, continued on second"), ("second", "second half alone")):
        print(row(label, figures[key], runs[key]))
    w, c = figures["whole"], figures["continued"]
    print(f"  continued - whole: analogy {100 * (c['analogy'] - w['analogy']):+.2f} points,"
          f" WS353 {c['ws353'] - w['ws353']:+.4f}, SimLex {c['simlex'] - w['simlex']:+.4f}"
          f" (targets: within 1 point / 0.01)")
    cost = {k: runs[k]["cpu_seconds"] for k in runs}
    print(f"  cost of continuing: CPU {cost['continued']:.1f} s = {cost['continued'] / cost['second']:.2f} x"
          f" the second half from scratch, {cost['continued'] / cost['whole']:.2f} x the whole corpus"
          f" (second half = {sum(c2.values()) / (sum(c1.values()) + sum(c2.values())):.2f} of the tokens);"
          f" wall {runs['continued']['seconds'] / runs['second']['seconds']:.2f} x /"
          f" {runs['continued']['seconds'] / runs['whole']['seconds']:.2f} x")
    meta = json.loads((home / "models" / "continued" / "meta.json").read_text())
    print(f"  continued model: {meta['vocab_size']:,} words, {meta['continued']['new_words']:,} new;"
          f" state {meta['state']['bytes'] / 1e6:.1f} MB")

    only = [wd for wd, n in c2.most_common() if n >= 20 and wd not in c1 and wd.isalpha()][:SHOW]
    print(f"\n[neighbours of words only in the second half: {', '.join(only)}]")
    near_c = neighbours(models["continued"], only)
    near_w = neighbours(models["whole"], only)
    for wd in only:
        print(f"  {wd} ({c2[wd]}x)\n    continued: {near_c[wd]}\n    whole:     {near_w[wd]}")
    return only, c


def run_gensim_part(args, work: Path, only: list[str], c: dict | None) -> None:
    """gensim Word2Vec on the whole corpus, and on the first half updated with the second."""
    spec = dict(SETTINGS, threads=args.threads, seed=args.seed, first=str(work / "first.tok"), second=str(work / "second.tok"),
                out_first=str(work / "g-first.txt"), out=str(work / "g-cont.txt"))
    g_cont = bench.run_measured([sys.executable, __file__, "--child", json.dumps(spec)])
    spec_whole = dict(spec, first=str(work / "whole.tok"), second=None, out_first=str(work / "g-whole.txt"))
    with open(work / "whole.tok", "wb") as out:
        out.write((work / "first.tok").read_bytes())
        out.write((work / "second.tok").read_bytes())
    g_whole = bench.run_measured([sys.executable, __file__, "--child", json.dumps(spec_whole)])
    g = {k: scores(str(work / f)) for k, f in
         (("whole", "g-whole.txt"), ("first", "g-first.txt"), ("continued", "g-cont.txt"))}
    print("\n[gensim Word2Vec, text tokenized by emb beforehand]")
    print(row("whole corpus at once", g["whole"], g_whole))
    print(row("first half", g["first"], None))
    print(row("first half + update on second", g["continued"], g_cont))
    gw, gc = g["whole"], g["continued"]
    print(f"  updated - whole: analogy {100 * (gc['analogy'] - gw['analogy']):+.2f} points,"
          f" WS353 {gc['ws353'] - gw['ws353']:+.4f}, SimLex {gc['simlex'] - gw['simlex']:+.4f}")
    if c is not None:
        print(f"  emb continued - gensim updated: analogy {100 * (c['analogy'] - gc['analogy']):+.2f} points,"
              f" WS353 {c['ws353'] - gc['ws353']:+.4f}, SimLex {c['simlex'] - gc['simlex']:+.4f}")
    near_g = neighbours(str(work / "g-cont.txt"), only)
    for wd in only:
        print(f"  {wd}: gensim updated {near_g[wd]}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child_gensim(json.loads(sys.argv[2]))
    else:
        main()
