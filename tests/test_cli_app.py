"""The root command: help for every command, version, the renderer shared by commands."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from conftest import invoke

from embcli import __version__
from embcli.cli.app import app
from embcli.cli.output import Renderer

COMMANDS = [
    "train", "tokenize", "vocab", "phrases", "neighbors", "similar", "analogy", "similarity", "doesnt-match", "vector",
    "import", "export", "convert", "evaluate", "compress", "index", "models", "plot", "cluster", "embed", "search",
]
SUBCOMMANDS = [["models", sub] for sub in ("list", "info", "use", "rm")]


def _all_commands(group=None, prefix=()):
    """Every command path of the app, found through typer's own registry."""
    import typer.main

    group = group or typer.main.get_command(app)
    for name, cmd in group.commands.items():
        yield [*prefix, name]
        if hasattr(cmd, "commands"):
            yield from _all_commands(cmd, (*prefix, name))


def test_root_help_lists_every_command_with_examples():
    result = invoke(["--help"])
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:")[1]
    for command in COMMANDS:
        assert f"  {command} " in listed
    assert "Examples:" in result.stdout and "emb train sample_data/web.txt.xz" in result.stdout


def test_no_arguments_shows_help():
    result = invoke([])
    assert "Usage: emb" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_known_commands_are_all_registered():
    paths = list(_all_commands())
    assert sorted(p for p in paths if len(p) == 1) == sorted([[c] for c in COMMANDS])
    for sub in SUBCOMMANDS:
        assert sub in paths


@pytest.mark.parametrize("path", list(_all_commands()), ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help(path, flag):
    result = invoke([*path, flag])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Usage: emb {' '.join(path)}")
    summary = [line for line in result.stdout.splitlines()[1:] if line.strip()][0]
    assert len(summary.strip()) > 10  # a one-line summary, not just the usage line


def test_train_help_names_every_option():
    text = invoke(["train", "--help"]).stdout
    for option in ("--algo", "--arch", "--loss", "--dim", "--window", "--epochs", "--min-count", "--max-vocab",
                   "--negative", "--sample", "--ns-exponent", "--lr", "--minn", "--maxn", "--buckets", "--threads", "--seed",
                   "--name", "--output", "--force", "--no-default", "--tokenizer", "--no-lowercase",
                   "--min-token-length"):
        assert option in text, option
    assert "Examples:" in text


def test_version():
    from importlib.metadata import version

    result = invoke(["--version"])
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"emb {__version__}"
    assert lines[1] == "python {}.{}.{}".format(*sys.version_info[:3])
    for engine in ("numpy", "numba", "gensim"):
        assert f"{engine} {version(engine)}" in lines


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "embcli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith(f"emb {__version__}\npython ")


def test_unknown_command_is_a_usage_error():
    result = invoke(["trian"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr and result.stdout == ""


# ------------------------------------------------------------------ Renderer


ROWS = [{"word": "king", "score": 0.123456789}, {"word": "tab\there", "score": None}]


def _render(fmt, rows):
    out = io.StringIO()
    renderer = Renderer(fmt, ["word", "score"], out=out)
    renderer.rows(rows)
    renderer.close()
    return out.getvalue()


def test_renderer_tsv():
    assert _render("tsv", ROWS) == "word\tscore\nking\t0.123457\ntab here\t\n"
    assert _render("tsv", []) == "word\tscore\n"


def test_renderer_json_and_jsonl():
    # Scores are float32 values: JSON carries their shortest decimal, not a float64 expansion.
    expected = [{"word": "king", "score": 0.12345679}, {"word": "tab\there", "score": None}]
    assert '"score": 0.12345679' in _render("json", ROWS)
    assert json.loads(_render("json", ROWS)) == expected
    assert json.loads(_render("json", [])) == []
    assert [json.loads(line) for line in _render("jsonl", ROWS).splitlines()] == expected
    assert _render("jsonl", []) == ""


def test_renderer_booleans_and_non_finite_numbers():
    rows = [{"word": "a", "score": float("nan"), "oov": True}, {"word": "b", "score": 0.5, "oov": False}]
    out = io.StringIO()
    renderer = Renderer("tsv", ["word", "score", "oov"], out=out)
    renderer.rows(rows)
    renderer.close()
    assert out.getvalue().splitlines()[1:] == ["a\tnan\ttrue", "b\t0.5\tfalse"]
    out = io.StringIO()
    renderer = Renderer("jsonl", ["word", "score", "oov"], out=out)
    renderer.rows(rows)
    renderer.close()
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"word": "a", "score": None, "oov": True},
        {"word": "b", "score": 0.5, "oov": False},
    ]


def test_renderer_table():
    text = _render("table", ROWS)
    assert "word" in text and "king" in text and "0.123457" in text


def test_renderer_auto_is_tsv_in_a_pipe():
    assert Renderer("auto", ["a"], out=io.StringIO()).fmt == "tsv"  # pytest captures stdout: not a terminal


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command(small_corpus, where):
    """`emb -q train ...` and `emb train ... -q` both leave stderr empty; without it a summary shows."""
    from conftest import TINY

    args = ["train", str(small_corpus), *TINY, "--name", "q"]
    loud = invoke(args + ["--force"])
    assert loud.exit_code == 0 and "trained word2vec model q" in loud.stderr
    quiet_args = ["-q", *args, "--force"] if where == "before" else [*args, "--force", "-q"]
    result = invoke(quiet_args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


START = """
import sys
sys.argv = ["emb", *sys.argv[1:]]
from embcli.cli.app import main
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
sys.stdout.flush()
print("loaded:", *sorted(m for m in ("pydantic", "numpy", "rich", "gensim") if m in sys.modules), file=sys.stderr)
"""


def test_help_loads_no_numpy_and_a_query_no_pydantic(tmp_path):
    """The start of emb is its cost per query: `emb --help` loads no numpy, and no command loads
    pydantic (typer 0.29 converts every parameter through it; pyproject.toml keeps typer below it)."""
    from query_models import write_toy_model

    folder = write_toy_model(tmp_path / "toy", ["a", "b", "c"], [[1, 0], [0.9, 0.1], [0, 1]])
    help_run = subprocess.run([sys.executable, "-c", START, "--help"], capture_output=True, text=True)
    assert "Usage: emb" in help_run.stdout and help_run.stderr.strip() == "loaded:"
    query = subprocess.run([sys.executable, "-c", START, "neighbors", "a", "-k", "1", "-m", str(folder)],
                           capture_output=True, text=True)
    assert query.stdout.splitlines()[1].split("\t")[:3] == ["a", "1", "b"]
    assert query.stderr.strip() == "loaded: numpy"


def test_a_run_builds_only_the_command_it_names(monkeypatch):
    """typer builds the click options of the commands it is given: a run gets the one it names; help,
    --version, shell completion and unknown names get the whole app (the same output as ever)."""
    from typer.main import get_command

    from embcli.cli.app import app, app_for

    only = app_for(["-q", "neighbors", "king", "-k", "3"])
    assert [c.name for c in only.registered_commands] == ["neighbors"] and not only.registered_groups
    assert len(app.registered_commands) > 10  # the app itself is left whole
    assert list(get_command(only).commands) == ["neighbors"]
    models = app_for(["models", "list"])
    assert not models.registered_commands and [g.name for g in models.registered_groups] == ["models"]
    for args in ([], ["--help"], ["-q"], ["--version"], ["neighbours", "king"], ["-x", "neighbors"]):
        assert app_for(args) is app, args
    monkeypatch.setenv("_EMB_COMPLETE", "bash_complete")
    assert app_for(["neighbors"]) is app


def test_the_table_of_command_modules_names_every_command_and_its_module():
    """A run imports only the module that registers its command: the table must know every command."""
    from typer.main import get_command_name

    from embcli.cli import app as root

    whole = root.whole_app()
    names = {c.name or get_command_name(c.callback.__name__): c.callback.__module__ for c in whole.registered_commands}
    names.update({g.name: "embcli.cli.models" for g in whole.registered_groups})
    assert sorted(names) == sorted(root._MODULES)
    for name, module in names.items():
        assert module == f"embcli.cli.{root._MODULES[name]}", name
        only = root.app_for([name, "x"])
        assert [c.name for c in only.registered_commands] + [g.name for g in only.registered_groups] == [name]


def test_a_query_on_a_model_folder_imports_no_file_readers(tmp_path):
    """A cold query pays for what it uses: not the vector-file readers, numpy.ma or importlib.metadata."""
    from query_models import write_toy_model

    folder = write_toy_model(tmp_path / "toy", ["a", "b", "c"], [[1, 0], [0.9, 0.1], [0, 1]])
    script = START.replace('("pydantic", "numpy", "rich", "gensim")',
                           '("embcli.formats.convert", "numpy.ma", "importlib.metadata", "hashlib", "numpy")')
    query = subprocess.run([sys.executable, "-c", script, "neighbors", "a", "-k", "1", "-m", str(folder)],
                           capture_output=True, text=True)
    assert query.stdout.splitlines()[1].split("\t")[:3] == ["a", "1", "b"]
    assert query.stderr.strip() == "loaded: numpy"


@pytest.mark.parametrize("given", [None, "12"])
def test_the_command_line_lets_blas_threads_sleep_unless_told(tmp_path, given):
    """The console script sets OpenBLAS's spin before numpy starts it, keeping a value the user gave;
    importing the library changes no environment."""
    import os

    from query_models import write_toy_model

    folder = write_toy_model(tmp_path / "toy", ["a", "b", "c"], [[1, 0], [0.9, 0.1], [0, 1]])
    code = (
        "import os, sys\n"
        "import embcli, embcli.api\n"
        "print('library', os.environ.get('OPENBLAS_THREAD_TIMEOUT'))\n"
        f"sys.argv = ['emb', 'neighbors', 'a', '-k', '1', '-m', {str(folder)!r}]\n"
        "from embcli.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('command', os.environ.get('OPENBLAS_THREAD_TIMEOUT'), 'numpy' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if given is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = given
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == f"library {given}" and lines[-1] == f"command {given or '4'} True"
    assert lines[-2].split("\t")[:3] == ["a", "1", "b"]
