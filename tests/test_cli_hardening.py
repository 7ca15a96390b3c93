"""Hostile and careless use of the command line: every case a clean answer, never a traceback.

The numbers are those of the hardening issue (12: query memory, 14: paths and early Ctrl-C,
17: progress, 21: help and -q, 22: output, 23: query words).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_clean_error, invoke
from query_models import install, write_toy_model

WORDS = ["king", "queen", "man", "woman", "holy", "spirit", "new_york", "new", "york", "bread"]


@pytest.fixture
def toy(tmp_path):
    """A unicode-tokenized toy model with a phrase (new_york), installed as the default."""
    rng = np.random.default_rng(0)
    folder = write_toy_model(tmp_path / "toy", WORDS, rng.normal(size=(len(WORDS), 8)))
    install(folder, "toy")
    return folder


def query_error(res, *fragments: str) -> None:
    """A failed query: exit 1, one error line, no traceback (stdout holds at most the header)."""
    assert res.exit_code == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and res.stderr.startswith("emb: error: ") and res.stderr.count("\n") == 1
    assert len(res.stdout.splitlines()) <= 1
    for fragment in fragments:
        assert fragment in res.stderr, (fragment, res.stderr)


def rows(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()[1:]]


# ----------------------------------------------------------------------------- 23: query words


def test_query_with_punctuation_is_tokenized_like_training(toy):
    plain = invoke(["neighbors", "king", "-k", "3"])
    res = invoke(["neighbors", "King,", "-k", "3"])
    assert res.exit_code == 0, res.stderr
    assert [r[1:] for r in rows(res.stdout)] == [r[1:] for r in rows(plain.stdout)]
    assert "'King,' looked up as 'king'" in res.stderr
    # A query already in its normal form says nothing; -q silences the note.
    assert plain.stderr == ""
    assert invoke(["-q", "neighbors", "King,", "-k", "3"]).stderr == ""


def test_query_tokenized_in_similarity_and_vector(toy):
    res = invoke(["similarity", "King,", "(queen)"])
    assert res.exit_code == 0, res.stderr
    assert "looked up as 'king'" in res.stderr and "looked up as 'queen'" in res.stderr
    res = invoke(["vector", '"bread"'])
    assert res.exit_code == 0 and "looked up as 'bread'" in res.stderr


def test_multi_word_query_says_what_to_do(toy):
    res = invoke(["neighbors", "holy spirit"])
    query_error(res, "'holy spirit' is 2 words", "emb similar holy spirit")
    # A phrase the model knows is named.
    res = invoke(["neighbors", "New York"])
    query_error(res, "'new_york'")


def test_library_lookup_splits_like_the_tokenizer(toy):
    from embcli import lookup as query
    from embcli.errors import UnknownWordError
    from embcli.folder import ModelFolder

    folder = ModelFolder(toy)
    term = query.lookup(folder, "KING!")
    assert (term.word, term.retokenized) == ("king", True)
    assert query.lookup(folder, "King").retokenized is False
    with pytest.raises(UnknownWordError, match="2 words"):
        query.lookup(folder, "holy spirit")


def test_whitespace_model_keeps_punctuation(tmp_path):
    folder = write_toy_model(tmp_path / "ws", ["king,", "king", "queen"], np.eye(3, 4), tokenizer={"mode": "whitespace"})
    install(folder, "ws")
    res = invoke(["neighbors", "king,", "-k", "1"])
    assert res.exit_code == 0 and res.stderr == "" and rows(res.stdout)[0][0] == "king,"


def test_fasttext_hint_once_per_run(toy):
    res = invoke(["neighbors", "foo", "bar", "baz"])
    assert res.exit_code == 1
    lines = res.stderr.splitlines()
    assert len(lines) == 3 and all(line.startswith("emb: error: unknown word") for line in lines)
    assert sum("FastText" in line for line in lines) == 1
    res = invoke(["neighbors"], input="foo\nking\nbar\n")
    assert res.exit_code == 1 and res.stderr.count("FastText") == 1 and len(rows(res.stdout)) == 9


# ------------------------------------------------------------------ 14: Ctrl-C while starting


def test_ctrl_c_while_importing_exits_130_without_traceback(tmp_path):
    """SIGINT at several moments of start-up, most of them while the command line is imported."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "EMB_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "embcli", "models", "list"]
    # The moments are fractions of one whole run's time, so that a loaded machine (slower start-up)
    # still sees signals land while the command line is imported, not all before it.
    started = time.perf_counter()
    normal = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True)
    whole = max(time.perf_counter() - started, 0.2)
    interrupted = 0
    stray: list = []
    for delay in [whole * f for f in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)]:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        # Python's own start-up (the site module, the editable install's path hook, runpy finding
        # the package) and the package's own first lines (embcli/__init__.py, which a library must
        # not give a Ctrl-C handler) come before the entry point runs: not ours to catch.
        frames = [line for line in err.splitlines() if line.lstrip().startswith('File "')]
        package_start = ("/embcli/__init__.py", "/embcli/_numba_cache.py", "/embcli/_version.py")
        emb_frames = [f for f in frames if "/embcli/" in f and not any(p in f for p in package_start)]
        if "Traceback" in err and not emb_frames:
            continue
        if "Traceback" in err:
            # A signal in the few microseconds between the interpreter running the entry module and
            # its handler taking over can still show one; before the entry point caught Ctrl-C,
            # about half of these runs did.
            stray.append((delay, err))
            continue
        assert "KeyboardInterrupt" not in err, (delay, err)
        assert proc.returncode in (0, 130, -signal.SIGINT), (delay, proc.returncode, err)
        if proc.returncode == 130:
            # A signal that lands after the command has said what it had to say (here: that the store
            # is empty) still ends it with 130; what came before is the normal run's own message.
            *said, last = err.strip().splitlines()
            assert last == "emb: interrupted", err
            assert said == normal.stderr.strip().splitlines()[: len(said)], err
            interrupted += 1
    assert interrupted, "no run was interrupted: the delays miss start-up"
    assert len(stray) <= 1, stray


# ------------------------------------------------------------- 14: outputs that cannot be written

# The fragment every message holds: the path given (the export writers may name the reason first).
BAD_OUTPUTS = [("file/sub", "file/sub"), ("file/a/b.txt", "file/a"), ("/proc/emb-x", "/proc/emb-x")]


@pytest.mark.parametrize("output,fragment", BAD_OUTPUTS)
@pytest.mark.parametrize("fmt", ["glove", "folder", "parquet"])
def test_export_to_an_impossible_path_is_one_line(toy, tmp_path, output, fragment, fmt):
    (tmp_path / "file").write_text("keep me\n")
    target = output if output.startswith("/") else str(tmp_path / output)
    res = invoke(["export", "-m", "toy", target, "--format", fmt])
    assert_clean_error(res, 1, fragment)
    assert (tmp_path / "file").read_text() == "keep me\n"


@pytest.mark.parametrize("output,fragment", BAD_OUTPUTS)
def test_convert_and_train_to_an_impossible_path_are_one_line(toy, tmp_path, output, fragment):
    from conftest import TINY

    (tmp_path / "file").write_text("keep me\n")
    target = output if output.startswith("/") else str(tmp_path / output)
    source = tmp_path / "v.txt"
    source.write_text("2 2\na 1 0\nb 0 1\n")
    assert_clean_error(invoke(["convert", source, target, "--to", "glove"]), 1, fragment)
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n" * 50)
    assert_clean_error(invoke(["train", corpus, *TINY, "--min-count", "1", "--output", target]), 1, fragment)
    assert (tmp_path / "file").read_text() == "keep me\n"


# ------------------------------------------------------------------------- 12: query memory


def test_huge_k_is_answered_in_bounded_passes(toy, monkeypatch):
    from embcli import query, topk as search

    expected = invoke(["neighbors", "-k", "1000000000", *WORDS[:6]])
    assert expected.exit_code == 0 and len(rows(expected.stdout)) == 6 * (len(WORDS) - 1)
    shapes = []
    real = search.topk

    def spy(vectors, norms, queries, k, *args, **kwargs):
        shapes.append((len(queries), min(k, len(vectors))))
        return real(vectors, norms, queries, k, *args, **kwargs)

    monkeypatch.setattr(query, "topk", spy)
    monkeypatch.setattr(query, "ANSWERS_PER_PASS", 20)
    res = invoke(["neighbors", "-k", "1000000000", *WORDS[:6]])
    got, want = rows(res.stdout), rows(expected.stdout)
    assert [r[:3] for r in got] == [r[:3] for r in want]
    assert np.allclose([float(r[3]) for r in got], [float(r[3]) for r in want], atol=1e-5)
    assert len(shapes) == 3 and all(q * k <= 20 for q, k in shapes), shapes

    passes = []
    real_analogy = search.analogy_topk

    def analogy_spy(vectors, norms, a, *args, **kwargs):
        passes.append(len(a))
        return real_analogy(vectors, norms, a, *args, **kwargs)

    monkeypatch.setattr(query, "analogy_topk", analogy_spy)
    res = invoke(["analogy", "-k", "1000000000"], input="king man woman\nman king queen\nholy spirit bread\n")
    assert res.exit_code == 0 and len(rows(res.stdout)) == 3 * (len(WORDS) - 3)
    assert passes == [2, 1], passes


def test_queries_per_pass_bounds_answers(toy):
    from embcli.api import load

    m = load("toy")
    assert m.queries_per_batch(10) >= 1000
    assert m.queries_per_batch(10**9) == m.queries_per_batch(len(WORDS))
    assert m.queries_per_batch(10**9, restrict=2) == m.queries_per_batch(2)


def _pipe(args, data: bytes, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "EMB_HOME": os.environ["EMB_HOME"]}
    return subprocess.run([sys.executable, "-m", "embcli", *args], input=data, capture_output=True, env=env, timeout=120)


@pytest.mark.parametrize("cmd,good", [("analogy", b"king man woman\n"), ("similarity", b"king queen\n"),
                                      ("neighbors", b"king\n"), ("similar", b"king -man\n")])
def test_over_long_stdin_line_is_refused_early(toy, tmp_path, cmd, good):
    long_line = b"king " * 600_000  # 3 MB, no line break until the end
    res = _pipe([cmd], good + long_line + b"\n" + long_line.rstrip() + good, tmp_path)
    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err, err
    assert err.count("a query line of more than") == 2, err
    assert "line 2:" in err and "line 3:" in err
    assert len(res.stdout.decode().splitlines()) >= 2  # the good first line was answered


def test_over_long_line_in_memory_and_in_a_vector_file(toy, tmp_path):
    res = invoke(["similarity"], input="king queen\n" + "x " * 600_000 + "\nqueen king\n")
    assert res.exit_code == 1 and "line 2: a query line of more than" in res.stderr
    assert len(rows(res.stdout)) == 2
    vectors = tmp_path / "v.txt"
    vectors.write_text("1 " * 8 + "\n" + "1 " * 600_000 + "\n" + "0 1 " * 4 + "\n")
    res = invoke(["neighbors", "--vector", vectors, "-k", "1"])
    assert res.exit_code == 1 and "line 2: a query line of more than" in res.stderr
    assert len(rows(res.stdout)) == 2


# ------------------------------------------------------------------- 21: help, -q, completion


def _all_commands():
    import typer.main

    from embcli.cli.app import app

    root = typer.main.get_command(app)
    out = []
    for name, command in root.commands.items():
        subs = getattr(command, "commands", None)
        if subs:
            out.extend([name, sub] for sub in subs)
        else:
            out.append([name])
    return out


COMMANDS = _all_commands()


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_is_readable_and_every_command_takes_q(path):
    import re

    res = invoke([*path, "--help"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.stderr
    text = res.stdout
    assert not re.search(r"\{\w+\}|<(int|str|float|path|text|bool|list\[str\]|int range|float range)>|\w:<", text), text
    assert "Usage: emb " + " ".join(path) + " [OPTIONS]" in text
    assert "-q, --quiet" in text
    # -q is taken after the command name too.
    res = invoke([*path, "-q", "--help"])
    assert res.exit_code == 0


def test_root_help_summaries_are_whole():
    res = invoke(["--help"], env={"COLUMNS": "80"})
    assert res.exit_code == 0
    commands = res.stdout.split("Commands:")[1]
    assert "..." not in commands
    assert "Train a Word2Vec, FastText or GloVe model on a corpus into the model store." in " ".join(commands.split())


def test_shell_completion(toy):
    import os
    import subprocess
    import sys

    # Run from bash, as a user does: typer finds the shell from the parent processes (run straight from
    # a pytest worker it found none, now and then: "Shell  not supported").
    code = "import sys; sys.argv[0] = 'emb'; from embcli.cli.entry import main; main()"
    res = subprocess.run(["bash", "-c", '"$0" -c "$1" --show-completion; exit $?', sys.executable, code],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "_emb_completion" in res.stdout, (res.returncode, res.stdout[:300], res.stderr)
    env = {**os.environ, "_EMB_COMPLETE": "complete_bash", "COMP_WORDS": "emb neighbors -m t", "COMP_CWORD": "3"}
    out = subprocess.run([sys.executable, "-c", "from embcli.cli.entry import main; main()"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["toy"], (out.stdout, out.stderr)
    env.update(COMP_WORDS="emb neigh", COMP_CWORD="1")
    out = subprocess.run([sys.executable, "-c", "from embcli.cli.entry import main; main()"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["neighbors"], out


# ------------------------------------------------------------------------------- 22: output


@pytest.mark.parametrize("cmd", ["neighbors", "analogy", "similarity", "vector", "similar", "doesnt-match"])
def test_empty_stdin_says_no_query_was_read(toy, cmd, tmp_path):
    res = _pipe([cmd], b"", tmp_path)
    assert res.returncode == 0
    assert res.stderr.decode() == "emb: no query read: stdin held no query (give words, or pipe one query a line)\n"
    assert len(res.stdout.decode().splitlines()) <= 1  # the header at most
    res = _pipe(["-q", cmd], b"\n  \n", tmp_path)
    assert res.returncode == 0 and res.stderr == b""


def test_evaluate_tables_fit_80_columns(toy, tmp_path):
    analogies = tmp_path / "questions-words.txt"
    analogies.write_text(": family\nking queen man woman\nman woman king queen\n: gram\nnew york holy spirit\n")
    pairs = tmp_path / "wordsim353.tsv"
    pairs.write_text("king queen 8.5\nman woman 8.3\nholy bread 1.0\nspirit york 0.5\n")
    res = invoke(["evaluate", "-m", "toy", "-m", str(toy), "--analogies", analogies, "--similarity", pairs,
                  "-f", "table"], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    # No row wraps: one line per section of the analogy table, one per model and set in the summary.
    sections = lines[: [i for i, line in enumerate(lines) if "summary" in line][0]]
    assert [line.split()[0] for line in sections if "│" in line][:2] == ["family", "gram"]
    summary = lines[[i for i, line in enumerate(lines) if "summary" in line][0]:]
    assert len([line for line in summary if "│" in line]) == 4, "\n".join(summary)


# ----------------------------------------------------------------------------- 17: progress


def _progress_text(monkeypatch, calls, then=None) -> tuple[str, object]:
    import io

    from rich.console import Console

    from embcli.cli import console as console_mod

    buffer = io.StringIO()
    monkeypatch.setattr(console_mod, "stderr_console",
                        lambda: Console(file=buffer, force_terminal=True, width=150, color_system=None))
    progress = console_mod.TrainProgress()
    progress.enabled = True
    with progress:
        for call in calls:
            progress(*call)
        if then is not None:
            then(progress)
        progress.progress.refresh()
    return buffer.getvalue(), progress


def test_progress_from_stdin_has_no_fake_percentage(monkeypatch):
    text, _ = _progress_text(monkeypatch, [("tokenize", 2_500_000, None, {"lines": 40_000, "tokens": 450_000})])
    last = [line for line in text.splitlines() if "tokenizing" in line][-1]
    assert "%" not in last and "ETA" not in last, last
    assert "2.5 MB 40.0k lines 450.0k tokens" in last
    text, _ = _progress_text(monkeypatch, [("tokenize", 500, 1000, {"lines": 10, "tokens": 100})])
    last = [line for line in text.splitlines() if "tokenizing" in line][-1]
    assert "50%" in last and "ETA" in last


def test_progress_words_per_second_is_the_summarys_measure(monkeypatch):
    import time

    tokens = 1_000_000
    calls = [("tokenize", 100, 100, {"lines": 10, "tokens": tokens}), ("train", 0, 2, {"words_per_s": 0.0})]
    _, progress = _progress_text(monkeypatch, calls)
    # An engine's own rate (gensim: words after subsampling) is not shown; the summary's is.
    now = progress.train_started + 4.0
    assert progress.words_per_second(2, now) == pytest.approx(tokens * 2 / 4.0)
    assert progress.words_per_second(0, time.perf_counter()) == 0.0


def test_progress_ends_on_the_summarys_figure(monkeypatch):
    from types import SimpleNamespace

    from embcli.cli import console as console_mod

    calls = [("tokenize", 100, None, {"lines": 10, "tokens": 1000}), ("train", 0, 2, {}), ("train", 2, 2, {})]
    text, progress = _progress_text(monkeypatch, calls, lambda p: p.finish(SimpleNamespace(
        words_per_second=123_456.0, lines=12, tokens=1500, tokenize_seconds=0.5)))
    task = progress.progress.tasks[progress.train_task]
    assert task.fields["rate"] == f"epoch 2/2 {console_mod.human_count(123_456.0)} words/s"
    # From stdin the tokenizing task is finished when training starts: its clock stops.
    tokenizing = progress.progress.tasks[progress.tok_task]
    assert tokenizing.stop_time is not None and tokenizing.total is None
    assert tokenizing.fields["rate"] == "12 lines 1.5k tokens, 3.0k tokens/s"
