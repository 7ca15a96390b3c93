"""The root ``emb`` command: global options, command registration, and the one error handler.

Library errors (``EmbError``) become one line on stderr and their exit code (1, or 2 for bad
usage); Ctrl-C exits 130. No traceback reaches the user for a mistake of theirs.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from embcli.cli.console import STATE
from embcli.errors import EmbError, caused_by_interrupt
from embcli.versions import engine_versions


class EmbGroup(TyperGroup):
    """A group that turns library errors and Ctrl-C into clean exits."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EmbError as exc:
            sys.stdout.flush()
            sys.stderr.write(f"emb: error: {exc}\n")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _interrupted()
        except Exception as exc:
            # Ctrl-C that library code turned into another exception is still Ctrl-C.
            if caused_by_interrupt(exc):
                _interrupted()
            raise


def _interrupted():
    """Report Ctrl-C once and exit 130."""
    if not STATE.get("interrupted"):
        STATE["interrupted"] = True
        sys.stderr.write("emb: interrupted\n")
    raise typer.Exit(130) from None


EXAMPLES = """\
Examples:

\b
  emb train sample_data/web.txt.xz --epochs 10     train word2vec into the model store
  emb train corpus/ --algo fasttext --name ft      a folder, FastText, named model
  xzcat big.txt.xz | emb train - --arch cbow       from stdin
  emb vocab corpus.txt --top 20                    the most frequent words
  emb neighbors king                               the nearest words in the default model
  emb analogy king man woman                       king - man + woman
  emb similar king -man +woman                     any sum of words (gensim's most_similar)
  emb models list                                  the models in the store
"""

app = typer.Typer(
    cls=EmbGroup,
    name="emb",
    help="emb: train, query, evaluate and convert static word embeddings.",
    epilog=EXAMPLES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        # "emb X.Y.Z" first, then one "engine version" line each (read from metadata, not imported).
        typer.echo("\n".join(f"{name} {version}" for name, version in engine_versions().items()))
        raise typer.Exit()


@app.callback()
def root(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, summaries or warnings on stderr.")] = False,
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the versions of emb and its engines."),
    ] = None,
) -> None:
    """emb: train, query, evaluate and convert static word embeddings."""
    STATE["quiet"] = quiet


def _register() -> None:
    from embcli.cli import compress, embed, evaluate, io, models, plot, query, text, train

    train.register(app)
    query.register(app)
    text.register(app)
    io.register(app)
    evaluate.register(app)
    embed.register(app)
    compress.register(app)
    app.add_typer(models.app, name="models")
    plot.register(app)


_register()


def main() -> None:
    """Entry point of the ``emb`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        # Ctrl-C outside a command (while starting, or while cleaning up after the first one).
        if not STATE.get("interrupted"):
            sys.stderr.write("emb: interrupted\n")
        _exit_now(130)
    except SystemExit:
        if STATE.get("interrupted"):
            # The temporary folder is already gone; leave at once rather than finalize the
            # interpreter under gensim's still-running daemon threads, which could end the
            # process by SIGINT instead of exit code 130.
            _exit_now(130)
        raise


def _exit_now(code: int) -> None:
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
