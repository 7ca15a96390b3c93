"""The root ``emb`` command: global options, command registration, and the one error handler.

Library errors (``EmbError``) become one line on stderr and their exit code (1, or 2 for bad
usage); Ctrl-C exits 130. No traceback reaches the user for a mistake of theirs.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from embcli.cli.console import STATE
from embcli.errors import EmbError, caused_by_interrupt
from embcli.versions import engine_versions


class EmbGroup(TyperGroup):
    """A group that turns library errors and Ctrl-C into clean exits, and gives every command the
    same readable help (``tidy_command``)."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy_command(command)
        return command

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


def _metavar(param) -> str:
    """A plain metavar: N for integers, NUM for numbers, a|b|c for choices, the name for the rest.

    Types are told by name: typer may run on its own copy of click, whose classes are not click's.
    """
    kind = param.type
    choices = getattr(kind, "choices", None)
    if choices is not None:
        return "|".join(str(c.value if isinstance(c, Enum) else c) for c in choices)
    if kind.name in ("integer", "integer range", "int", "int range"):
        return "N"
    if kind.name in ("float", "float range"):
        return "NUM"
    names = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    return (names[0][2:] if names else param.name or "value").upper().replace("_", "-")


def _plain_argument_metavar(param) -> None:
    """An argument shows as FILE, [WORDS]... in usage and help (not {file}, words:<list[str]>)."""
    name = param.metavar or (param.name or "value").upper()
    if param.metavar is None:
        if param.nargs != 1:
            name = f"[{name}]..." if not param.required else f"{name}..."
        elif not param.required:
            name = f"[{name}]"
    param.metavar = name
    param.make_metavar = lambda ctx=None, usage=False: name


def _quiet_option():
    from embcli.cli.console import set_quiet
    from typer.core import TyperOption

    return TyperOption(
        param_decls=["--quiet", "-q"], is_flag=True, default=False, expose_value=False,
        help="No progress, summaries or warnings on stderr (as `emb -q ...`).",
        callback=lambda ctx, param, value: set_quiet(value),
    )


def tidy_command(command) -> None:
    """The one place that shapes a command's help: plain metavars for every option and argument,
    the whole first line of the docstring as the summary in ``emb --help``, and ``-q/--quiet`` on
    every command (as ``emb -q``). Sub-groups (``emb models``) get the same."""
    if getattr(command, "_emb_tidy", False):
        return
    command._emb_tidy = True
    group = hasattr(command, "commands")
    for sub in getattr(command, "commands", {}).values():
        tidy_command(sub)
    if command.help and not command.short_help:
        command.short_help = command.help.strip().split("\n\n")[0].replace("\n", " ")
    for param in command.params:
        if param.param_type_name == "argument":
            _plain_argument_metavar(param)
        elif param.param_type_name == "option" and not param.is_flag and not param.count and param.metavar is None:
            param.metavar = _metavar(param)
    if not group and not any("--quiet" in getattr(p, "opts", ()) for p in command.params):
        command.params.append(_quiet_option())


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
    add_completion=True,
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
    from embcli.cli import embed, evaluate, io, models, plot, query, text, train

    train.register(app)
    query.register(app)
    text.register(app)
    io.register(app)
    evaluate.register(app)
    embed.register(app)
    app.add_typer(models.app, name="models")
    plot.register(app)


_register()


def main() -> None:
    """Entry point of the ``emb`` console script."""
    try:
        app(prog_name="emb")
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
