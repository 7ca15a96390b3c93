"""``emb import``, ``emb export``, ``emb convert``: models in and out of external formats.

The format choices and their help come from the registry in ``embcli.formats``.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import Annotated, Optional

import typer

from embcli.cli.console import StderrProgress, human_count, info, set_quiet, warn
from embcli.cli.options import ModelOpt, QuietOpt
from embcli.formats import READABLE, WRITABLE, format_help

InFormat = Enum("InFormat", {name: name for name in READABLE}, type=str)
OutFormat = Enum("OutFormat", {name: name for name in WRITABLE}, type=str)

_IN_HELP = "Input format [default: from the suffix, else the first bytes]. " + format_help()
_OUT_HELP = "Output format [default: from the suffix; word2vec for -]. " + format_help(writable=True)
LimitOpt = Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N words.")]
LossyOpt = Annotated[
    bool, typer.Option("--lossy", help="Replace invalid UTF-8 in words with U+FFFD instead of stopping.")
]
NormalizeOpt = Annotated[bool, typer.Option("--normalize", help="Write unit-length vectors.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output.")]
NonFinite = Enum("NonFinite", {"error": "error", "zero": "zero"}, type=str)
NonFiniteOpt = Annotated[
    NonFinite,
    typer.Option("--nonfinite", help="NaN or infinite values: error (stop, naming the row) or zero (replace by 0)."),
]

IMPORT_EXAMPLES = """\
Examples:

\b
  emb import GoogleNews-vectors-negative300.bin --lossy --name gnews
  emb import glove.6B.100d.txt.gz --limit 100000
  emb import cc.en.300.bin --name cc-en          (fastText: out-of-vocabulary words work)
  zcat vectors.txt.gz | emb import - --format word2vec --name mine
"""
EXPORT_EXAMPLES = """\
Examples:

\b
  emb export vectors.parquet                      the default model as Parquet
  emb export -m web-word2vec out.bin --limit 50000
  emb export - --format glove --normalize --limit 10
"""
CONVERT_EXAMPLES = """\
Examples:

\b
  emb convert glove.6B.100d.txt glove.parquet
  emb convert cc.en.300.bin cc.en.300.vec.gz --limit 200000
  emb convert in.txt - --to word2vec-binary > out.bin
"""


class IOProgress(StderrProgress):
    """Rows per second on stderr while a large file is read or written (terminal only)."""

    transient = True

    def __init__(self, what: str):
        super().__init__()
        self.what = what
        self.task = None

    def __call__(self, done: int, total: int | None, rows: int) -> None:
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task(self.what, total=total, rate="")
        spent = max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, completed=done, total=total, rate=f"{human_count(rows)} rows {human_count(rows / spent)} rows/s")


def _report_skips(summary) -> None:
    if summary.duplicates:
        warn(
            f"skipped {summary.duplicates:,} duplicate word(s), keeping the first of each"
            f" (first duplicate: {summary.first_duplicate!r})"
        )
    if summary.empty:
        warn(f"skipped {summary.empty:,} empty word(s)")
    if summary.replaced_bytes:
        warn(f"replaced {summary.replaced_bytes:,} invalid UTF-8 byte(s) in words with U+FFFD")
    if summary.nonfinite_values:
        warn(f"replaced {summary.nonfinite_values:,} non-finite value(s) in {summary.nonfinite_rows:,} row(s) with 0")
    if getattr(summary, "sorted_by_count", False):
        warn("put the rows in the order of their counts, most frequent first, as a model keeps them"
             " (the file had them in another order)")
    if getattr(summary, "uncounted", 0):
        n = summary.uncounted
        warn(f"left the word counts out: {n:,} of {summary.rows:,} words {'has' if n == 1 else 'have'} none (a null or"
             " negative count), and a model keeps counts for all its words or none")


def import_cmd(
    file: Annotated[str, typer.Argument(help="The file to import (or a model folder); - for stdin.", show_default=False)],
    fmt: Annotated[Optional[InFormat], typer.Option("--format", help=_IN_HELP, show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Model name [default: the file name].")] = None,
    limit: LimitOpt = None,
    lossy: LossyOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a model of the same name.")] = False,
    no_default: Annotated[bool, typer.Option("--no-default", help="Do not make the model the default.")] = False,
    nonfinite: NonFiniteOpt = NonFinite.error,
    be_quiet: QuietOpt = False,
) -> None:
    """Import vectors from word2vec, GloVe, fastText or Parquet files into the model store."""
    set_quiet(be_quiet)
    from embcli.api import import_vectors

    started = time.perf_counter()
    with IOProgress("reading") as progress:
        done = import_vectors(file, name, fmt.value if fmt else None, limit, lossy, force, not no_default, progress,
                              nonfinite=nonfinite.value)
    spent = time.perf_counter() - started
    _report_skips(done)
    info(
        f"imported {file if file != '-' else 'stdin'} ({done.read_format}) as model {done.target!r}: {done.rows:,}"
        f" words x {done.dim} dims in {spent:.1f} s ({human_count(done.rows / max(spent, 1e-9))} rows/s)"
        + ("" if no_default else "; now the default model")
    )


def export_cmd(
    output: Annotated[str, typer.Argument(help="Output file or folder; - for stdout.", show_default=False)],
    model: ModelOpt = None,
    fmt: Annotated[Optional[OutFormat], typer.Option("--format", help=_OUT_HELP, show_default=False)] = None,
    limit: LimitOpt = None,
    normalize: NormalizeOpt = False,
    force: ForceOpt = False,
    be_quiet: QuietOpt = False,
) -> None:
    """Write a model to a file in word2vec, GloVe, fastText .vec or Parquet format."""
    set_quiet(be_quiet)
    from embcli.api import load

    started = time.perf_counter()
    m = load(model)
    with IOProgress("writing") as progress:
        done = m.export(output, fmt.value if fmt else None, limit, normalize, force, progress)
    spent = time.perf_counter() - started
    info(
        f"exported model {m.name!r} to {output if output != '-' else 'stdout'} ({done.written_format}):"
        f" {done.rows:,} words x {m.dim} dims in {spent:.1f} s"
    )


def convert_cmd(
    input: Annotated[str, typer.Argument(help="Input file or model folder; - for stdin.", show_default=False)],
    output: Annotated[str, typer.Argument(help="Output file or folder; - for stdout.", show_default=False)],
    from_fmt: Annotated[Optional[InFormat], typer.Option("--from", help=_IN_HELP, show_default=False)] = None,
    to_fmt: Annotated[Optional[OutFormat], typer.Option("--to", help=_OUT_HELP, show_default=False)] = None,
    limit: LimitOpt = None,
    lossy: LossyOpt = False,
    normalize: NormalizeOpt = False,
    force: ForceOpt = False,
    nonfinite: NonFiniteOpt = NonFinite.error,
    be_quiet: QuietOpt = False,
) -> None:
    """Convert between vector formats without touching the model store."""
    set_quiet(be_quiet)
    from embcli.api import convert

    started = time.perf_counter()
    with IOProgress("converting") as progress:
        done = convert(
            input, output, from_fmt.value if from_fmt else None, to_fmt.value if to_fmt else None,
            limit, lossy, normalize, force, progress, nonfinite=nonfinite.value,
        )
    spent = time.perf_counter() - started
    _report_skips(done)
    info(
        f"converted {input if input != '-' else 'stdin'} ({done.read_format}) to {output if output != '-' else 'stdout'}"
        f" ({done.written_format}): {done.rows:,} words x {done.dim} dims in {spent:.1f} s"
    )


def register(app: typer.Typer) -> None:
    app.command("import", epilog=IMPORT_EXAMPLES)(import_cmd)
    app.command("export", epilog=EXPORT_EXAMPLES)(export_cmd)
    app.command("convert", epilog=CONVERT_EXAMPLES)(convert_cmd)
