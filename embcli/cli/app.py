"""The root ``emb`` command: global options, command registration, and the one error handler.

Library errors (``EmbError``) become one line on stderr and their exit code (1, or 2 for bad
usage); Ctrl-C exits 130 (SIGTERM 143, SIGHUP 129: ``errors.interruption``). No traceback reaches
the user for a mistake of theirs. An ``OSError`` of a full or read-only disk, or of a closed
stdin/stdout, is translated here too (one line naming the place and the fix). Leftovers of killed runs that the library removed are noted on stderr.
"""

from __future__ import annotations

import io
import os
import sys
from enum import Enum
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from embcli.cli.console import STATE
from embcli.errors import EmbError, caused_by_interrupt, interruption, storage_error, was_interrupted
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
            if was_interrupted():
                _interrupted()
            _flush_stdout()
            _error(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _interrupted()
        except OSError as exc:
            if caused_by_interrupt(exc) or was_interrupted():
                _interrupted()
            message = _os_error(exc)
            if message is None:
                raise
            _error(message, 1)
        except Exception as exc:
            # Ctrl-C that library code turned into another exception is still Ctrl-C (a C++ library may
            # make it a RuntimeError: only the note of the signal tells).
            if caused_by_interrupt(exc) or was_interrupted():
                _interrupted()
            raise
        finally:
            _note_cleaned()


def _error(message: str, code: int):
    sys.stderr.write(f"emb: error: {message}\n")
    raise typer.Exit(code) from None


def _flush_stdout() -> bool:
    """Flush stdout; False when it cannot take the data (closed, a full disk, /dev/full)."""
    try:
        sys.stdout.flush()
        return True
    except OSError as exc:
        STATE["stdout_failed"] = True
        STATE["stdout_error"] = exc
        return False


def _os_error(exc: OSError) -> str | None:
    """The one line for an OSError of a full or read-only disk or a closed stdio stream, else None."""
    import errno

    if isinstance(exc, BrokenPipeError):
        return None
    if exc.errno == errno.EBADF and exc.filename in ("<stdin>", "<stdout>"):
        which = exc.filename.strip("<>")
        fix = "give a file or a pipe (< FILE)" if which == "stdin" else "redirect it to a file or /dev/null"
        return f"{which} is closed: {fix}"
    place = "stdout" if exc.filename is None and _raised_writing_stdout(exc) else None
    error = storage_error(exc, place)
    return None if error is None else str(error)


def _raised_writing_stdout(exc: BaseException) -> bool:
    """Whether an OSError without a file name came from writing the output (stdout).

    The library names the files it writes (``StorageError``); what is left without a name was
    raised writing stdout when stdout cannot take more, or by a frame that held stdout.
    """
    if not _flush_stdout():
        return True
    import os

    streams = {id(sys.stdout), id(getattr(sys.stdout, "buffer", None)), id(sys.__stdout__)}
    cli = os.path.dirname(os.path.abspath(__file__))
    innermost = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if any(id(v) in streams for v in frame.f_locals.values()):
            return True
        if "embcli" in frame.f_code.co_filename:
            innermost = frame.f_code.co_filename
        tb = tb.tb_next
    # The command layer itself writes only to stdout and stderr.
    return innermost is not None and os.path.dirname(os.path.abspath(innermost)) == cli and innermost != __file__


def _note_cleaned() -> None:
    """Say which leftovers of killed runs were removed (the library returns them; the CLI tells).

    A command that never imported the folder writer removed nothing, and importing it here could
    meet a module that Ctrl-C left half imported (numpy: "cannot load module more than once").
    """
    atomic = sys.modules.get("embcli.folder.atomic")
    if atomic is None:
        return
    cleaned = atomic.drain_cleaned()
    if cleaned and not STATE.get("quiet"):
        shown = ", ".join(str(p) for p in cleaned[:3]) + (f" and {len(cleaned) - 3} more" if len(cleaned) > 3 else "")
        sys.stderr.write(f"emb: note: removed {len(cleaned)} leftover(s) of interrupted runs: {shown}\n")


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
    """Report Ctrl-C (or SIGTERM, SIGHUP) once and exit 130 (143, 129)."""
    said, code = interruption()
    if not STATE.get("interrupted"):
        STATE["interrupted"] = True
        sys.stderr.write(f"emb: {said}\n")
    raise typer.Exit(code) from None


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

\b
Exit codes: 0 done; 1 an error, or a query of a batch that failed (the others are answered);
2 bad usage; 130, 143, 129 stopped by Ctrl-C, SIGTERM, SIGHUP.
"""

_app = typer.Typer(
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


@_app.callback()
def root(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, summaries or warnings on stderr.")] = False,
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the versions of emb and its engines."),
    ] = None,
) -> None:
    """emb: train, query, evaluate and convert static word embeddings."""
    STATE["quiet"] = quiet


# The module of embcli.cli that registers each command: a run that names one imports that module
# alone (tests/test_cli_app.py checks this table against the whole app).
_MODULES = {
    "train": "train", "neighbors": "query", "similar": "query", "analogy": "query", "similarity": "query",
    "doesnt-match": "query", "vector": "query", "tokenize": "text", "vocab": "text", "phrases": "text",
    "import": "io", "export": "io", "convert": "io", "evaluate": "evaluate", "embed": "embed", "search": "embed",
    "compress": "compress", "index": "index", "models": "models", "plot": "plot", "cluster": "plot",
}
# The order of the commands in help.
_ORDER = ("train", "query", "text", "io", "evaluate", "embed", "compress", "index", "models", "plot")
_WHOLE: list[bool] = []


def _register(target: typer.Typer, name: str) -> None:
    import importlib

    module = importlib.import_module(f"embcli.cli.{name}")
    if name == "models":
        target.add_typer(module.app, name="models")
    else:
        module.register(target)


def whole_app() -> typer.Typer:
    """The app with every command (registered on first use)."""
    if not _WHOLE:
        for name in _ORDER:
            _register(_app, name)
        _WHOLE.append(True)
    return _app


def __getattr__(name: str):
    if name == "app":
        return whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _ClosedStream:
    """Stands for stdin or stdout when the shell closed it (``<&-``, ``>&-``): any use is an error.

    The file descriptor itself is taken by /dev/null meanwhile, so that no file emb opens can get
    it (and receive the output meant for stdout).
    """

    def __init__(self, name: str):
        self.name = name
        self.buffer = self

    def _closed(self, *args, **kwargs):
        import errno

        raise OSError(errno.EBADF, f"{self.name.strip('<>')} is closed", self.name)

    read = readline = readlines = peek = read1 = readinto = write = writelines = fileno = _closed
    readable = writable = seekable = tell = seek = _closed
    __iter__ = __next__ = _closed

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    closed = False
    encoding = "utf-8"
    errors = "strict"


class _WholeWrites(io.RawIOBase):
    """stdout's file descriptor, written whole or not at all: a write the kernel cuts short (the reader
    of a pipe went away in the middle of it) is followed by one that fails with EPIPE.

    CPython's own stdout takes a short write of a large block as done: ``emb phrases | head -1`` lost
    the rest of its output and exited 0.
    """

    def __init__(self, fd: int):
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            view = view[os.write(self._fd, view) :]
        return total


def _sturdy_stdout() -> None:
    """Put stdout on ``_WholeWrites``, keeping its encoding, error handler and line buffering."""
    old = sys.stdout
    try:
        if old is not sys.__stdout__ or old.fileno() != 1:
            return
        old.flush()
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_WholeWrites(1), 1 << 16), encoding=old.encoding,
                                      errors=old.errors, line_buffering=old.line_buffering)
    except (AttributeError, OSError, ValueError):
        sys.stdout = old


def _guard_stdio() -> None:
    """Occupy closed descriptors 0-2 with /dev/null; stdin and stdout then refuse to be used."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            taken = os.open(os.devnull, os.O_RDWR)
        except OSError:
            continue
        if taken != fd:
            os.dup2(taken, fd)
            os.close(taken)
        if name == "stderr":
            sys.stderr = open(fd, "w", closefd=False)
        else:
            setattr(sys, name, _ClosedStream(f"<{name}>"))


# The options of ``emb`` itself that take no value (a command may follow them).
_ROOT_FLAGS = ("-q", "--quiet")


def app_for(args: list[str]) -> typer.Typer:
    """An app with only the command that ``args`` name, or the whole app.

    typer turns every registered command's signature into click options before it runs one (25 ms
    of a cold ``emb neighbors``), and importing every command's module takes 5 ms more; a run of one
    command needs only that one. Help, --version, shell completion, an unknown command and anything
    unusual get the whole app, so that their output is the same as ever.
    """
    import os

    if any(key.endswith("_COMPLETE") for key in os.environ):
        return whole_app()
    name = next((a for a in args if a not in _ROOT_FLAGS), None)
    if name is None or name.startswith("-") or name not in _MODULES:
        return whole_app()
    import copy

    from typer.main import get_command_name

    only = copy.copy(_app)
    only.registered_commands, only.registered_groups = [], []
    _register(only, _MODULES[name])
    only.registered_commands = [c for c in only.registered_commands
                                if (c.name or get_command_name(c.callback.__name__)) == name]
    only.registered_groups = [g for g in only.registered_groups if g.name == name]
    if not only.registered_commands and not only.registered_groups:
        return whole_app()
    return only


def main() -> None:
    """Entry point of the ``emb`` console script."""
    try:
        _guard_stdio()
        _sturdy_stdout()
        app_for(sys.argv[1:])(prog_name="emb")
    except KeyboardInterrupt:
        # Ctrl-C outside a command (while starting, or while cleaning up after the first one).
        said, code = interruption()
        if not STATE.get("interrupted"):
            sys.stderr.write(f"emb: {said}\n")
        _exit_now(code)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if STATE.get("stdout_failed"):
            _exit_now(code or 1)  # reported by the command's error; do not flush it again at exit
        if not _flush_stdout():
            # The output could not be written at the end (a full disk, /dev/full): say so once and
            # leave without the interpreter trying again.
            exc = STATE.get("stdout_error")
            if code == 0 and not isinstance(exc, BrokenPipeError):
                message = _os_error(exc) or f"stdout: {exc.strerror or exc}"
                sys.stderr.write(f"emb: error: {message}\n")
                code = 1
            _exit_now(code)
        if STATE.get("interrupted"):
            # The temporary folder is already gone; leave at once rather than finalize the
            # interpreter under gensim's still-running daemon threads, which could end the
            # process by SIGINT instead of exit code 130.
            _exit_now(interruption()[1])
        raise


def _exit_now(code: int) -> None:
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)
