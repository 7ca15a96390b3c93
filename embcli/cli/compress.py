"""``emb compress``: a smaller copy of a model (float16, int8, PQ) and a table of what it cost."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from embcli.cli.console import human_bytes, info
from embcli.cli.options import FormatOpt, OutputFormat


class Storage(str, Enum):
    float32 = "float32"
    float16 = "float16"
    int8 = "int8"
    pq = "pq"


class PruneBy(str, Enum):
    auto = "auto"
    words = "words"
    counts = "counts"
    norm = "norm"


EXAMPLES = """\
Examples:

\b
  emb compress wiki --to int8                     4x smaller, as model wiki-int8
  emb compress wiki --to pq --subquantizers 75    PQ codes (needs pip install 'embcli[compress]')
  emb compress wiki --to pq --opq --name wiki-s   optimized PQ (a learned rotation first)
  emb compress wiki --dry-run                     the cost of several settings, nothing written
  emb compress wiki --max-vocab 100000 --to float32   the 100,000 most frequent words, float32
  emb compress ft --prune-ngrams 100000           a fastText model with 100,000 n-gram rows (int8)
"""

COLUMNS = ["setting", "size", "ratio", "vectors ratio", "recall@10", "analogy", "ws353", "simlex", "seconds"]


def _row(cost, fmt: str) -> dict:
    def change(key: str):
        s = cost.scores.get(key)
        if not s or s["before"] is None or s["after"] is None:
            return None if fmt != "table" else "-"
        if fmt in ("json", "jsonl"):
            return s
        if fmt != "table":  # TSV: one field, both numbers as they are
            return f"{s['before']} -> {s['after']}"
        return f"{s['before']:.4g} -> {s['after']:.4g}"

    table = fmt == "table"
    vratio = cost.vector_bytes_before / cost.vector_bytes_after if cost.vector_bytes_after else None
    return {
        "setting": cost.setting,
        "size": f"{human_bytes(cost.bytes_before)} -> {human_bytes(cost.bytes_after)}" if table
        else cost.bytes_after,
        "ratio": f"{cost.ratio:.1f}x" if table else round(cost.ratio, 3),
        "vectors ratio": (f"{vratio:.1f}x" if table else round(vratio, 3)) if vratio else None,
        "recall@10": (f"{cost.recall_at_10:.3f}" if table else round(cost.recall_at_10, 4))
        if cost.recall_at_10 is not None else None,
        "analogy": change("analogy:questions-words.txt"),
        "ws353": change("spearman:wordsim353.tsv"),
        "simlex": change("spearman:simlex999.txt"),
        "seconds": f"{cost.seconds:.1f}" if table else round(cost.seconds, 2),
    }


def compress_cmd(
    model: Annotated[str, typer.Argument(help="Model name, model folder, or a vector file.", show_default=False)],
    to: Annotated[Storage, typer.Option("--to", help="Storage of the new model's vectors.")] = Storage.int8,
    subquantizers: Annotated[
        Optional[int], typer.Option("--subquantizers", "-M", help="PQ: codes a vector [default: dim/4 or less].",
                                    show_default=False)
    ] = None,
    bits: Annotated[int, typer.Option("--bits", help="PQ: bits a code (2^bits centroids a subquantizer).")] = 8,
    opq: Annotated[bool, typer.Option("--opq", help="PQ: learn a rotation first (optimized PQ).")] = False,
    name: Annotated[
        Optional[str], typer.Option("--name", "-n", help="Name in the store [default: MODEL-KIND].", show_default=False)
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the model folder here instead of the store.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a model of the same name.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the cost of several settings; write nothing.")
    ] = False,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Words whose neighbours give recall@10.")] = 1000,
    no_benchmarks: Annotated[
        bool, typer.Option("--no-benchmarks", help="Skip the analogy and word-pair sets (recall@10 only).")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the sampled words and the codebooks.")] = 0,
    threads: Annotated[
        Optional[int], typer.Option("--threads", min=1, show_default=False,
                                    help="PQ: threads training and encoding (the same seed and threads give the"
                                    " same codes; on a busy machine fewer may be faster) [default: all cores].")
    ] = None,
    max_vocab: Annotated[
        Optional[int], typer.Option("--max-vocab", help="Keep only the N most frequent words.", show_default=False)
    ] = None,
    prune_ngrams: Annotated[
        Optional[int], typer.Option("--prune-ngrams", help="fastText: keep only N n-gram rows (unseen words still"
                                    " get vectors from the kept ones).", show_default=False)
    ] = None,
    prune_by: Annotated[
        PruneBy, typer.Option("--prune-by", help="Which n-gram rows to keep: measured on unseen words (auto), or by"
                              " the vocabulary words using them (words, counts), or by their norm.")
    ] = PruneBy.auto,
    fmt: FormatOpt = OutputFormat.auto,
) -> None:
    """Write a smaller copy of a model (float16, int8 or product-quantized vectors; fewer words or
    fastText n-gram rows) and print what it cost.

    The cost: the size before and after, recall@10 of the neighbours of sampled words against the
    original, and the analogy accuracy and WS353/SimLex correlations before -> after. It is kept in
    the new model's meta.json. The original model is never changed.
    """
    from embcli.api import load
    from embcli.cli.output import Renderer
    from embcli.errors import UsageError

    source = load(model)
    out = Renderer(fmt.value, COLUMNS)
    if dry_run and (max_vocab is not None or prune_ngrams is not None):
        raise UsageError("--dry-run compares storages only: drop --max-vocab/--prune-ngrams, or --dry-run")
    if dry_run:
        info(f"measuring several settings on {source.name} ({len(source):,} x {source.dim}); nothing is written")
        # The setting asked for is measured too (the default --to int8 is among the settings anyway).
        source.compare_compressions(sample=sample, benchmarks=not no_benchmarks, seed=seed, threads=threads,
                                    on_result=lambda c: out.row(_row(c, out.fmt)), to=to.value,
                                    subquantizers=subquantizers, bits=bits, opq=opq)
        out.close()
        return
    if source.storage != "float32":
        info(f"{source.name} is stored as {source.storage}: compressing again from its stored values")
    small = source.compress(to.value, name=name, output=output, subquantizers=subquantizers, bits=bits, opq=opq,
                            force=force, sample=sample, benchmarks=not no_benchmarks, seed=seed,
                            max_vocab=max_vocab, prune_ngrams=prune_ngrams, prune_by=prune_by.value,
                            threads=threads, on_stage=lambda s: info(f"{s}..."))
    cost = small.compression
    out.row(_row(cost, out.fmt))
    out.close()
    if cost.vocab_after != cost.vocab_before:
        info(f"kept the {cost.vocab_after:,} most frequent of {cost.vocab_before:,} words"
             " (recall@10 is measured among them)")
    grams = cost.ngrams
    if grams and "rows_after" in grams:
        tried = ", ".join(f"{k} {v['median_cosine']}" for k, v in grams["criteria"].items())
        info(f"n-gram rows: {grams['rows_before']:,} -> {grams['rows_after']:,} ({grams['storage']}), kept by"
             f" {grams['by']}; median cosine of {grams['unseen_words']} unseen words to the original: {tried}")
    elif grams:
        info(f"n-gram rows stored as {grams['storage']}")
    info(f"wrote {small.path} ({to.value}): {human_bytes(cost.bytes_before)} -> {human_bytes(cost.bytes_after)}")


def register(app: typer.Typer) -> None:
    app.command("compress", epilog=EXAMPLES)(compress_cmd)
