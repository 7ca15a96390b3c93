"""``emb neighbors|analogy|similarity|vector`` end to end: stdout, stderr and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from query_models import ft_dir, gensim_keyed_vectors, install, small_corpus_file, w2v_dir  # noqa: F401
from typer.testing import CliRunner

from embcli.cli.app import app

COMMANDS = ["neighbors", "analogy", "similarity", "vector"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def store_model(w2v_dir):
    """The small word2vec model installed as the default model of this test's store."""
    return install(w2v_dir, "web-small")


def run(runner, args, input=None):
    return runner.invoke(app, args, input=input)


def tsv(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help(runner, cmd):
    res = run(runner, [cmd, "--help"])
    assert res.exit_code == 0 and "Examples" in res.stdout and "--format" in res.stdout


def test_analogy_help_states_the_order(runner):
    res = run(runner, ["analogy", "--help"])
    assert "A - B + C" in res.stdout and "king - man + woman" in res.stdout


def test_neighbors_tsv_matches_gensim(runner, store_model, w2v_dir):
    res = run(runner, ["neighbors", "king", "-k", "5", "-f", "tsv"])
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    rows = tsv(res.stdout)
    assert rows[0] == ["query", "rank", "word", "score", "oov"]
    expected = gensim_keyed_vectors(w2v_dir).most_similar("king", topn=5)
    assert [r[2] for r in rows[1:]] == [w for w, _ in expected]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    np.testing.assert_allclose([float(r[3]) for r in rows[1:]], [s for _, s in expected], atol=1e-5)
    assert {r[0] for r in rows[1:]} == {"king"} and {r[4] for r in rows[1:]} == {"false"}


def test_neighbors_pipe_default_is_tsv(runner, store_model):
    res = run(runner, ["neighbors", "king", "-k", "2"])
    assert res.stdout.splitlines()[0] == "query\trank\tword\tscore\toov"


@pytest.mark.parametrize("fmt", ["tsv", "json", "jsonl", "table"])
def test_neighbors_every_format(runner, store_model, fmt):
    res = run(runner, ["neighbors", "king", "god", "-k", "3", "-f", fmt])
    assert res.exit_code == 0, res.stderr
    if fmt == "tsv":
        rows = [dict(zip(tsv(res.stdout)[0], r)) for r in tsv(res.stdout)[1:]]
    elif fmt == "json":
        rows = json.loads(res.stdout)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in res.stdout.splitlines()]
    else:
        assert "query" in res.stdout and "score" in res.stdout
        assert res.stdout.count("king") == 3 and res.stdout.count(" god ") == 3
        return
    assert [r["query"] for r in rows] == ["king"] * 3 + ["god"] * 3
    assert [int(r["rank"]) for r in rows] == [1, 2, 3] * 2
    if fmt != "tsv":
        assert all(isinstance(r["score"], float) and r["oov"] is False for r in rows)


def test_neighbors_metric_and_restrict(runner, store_model):
    res = run(runner, ["neighbors", "king", "-k", "4", "--metric", "euclidean", "--restrict", "100", "-f", "jsonl"])
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores) and len(rows) == 4


def test_normalisation_uses_the_model_tokenizer(runner, store_model):
    upper = run(runner, ["neighbors", "KING", "-k", "3", "-f", "jsonl"])
    lower = run(runner, ["neighbors", "king", "-k", "3", "-f", "jsonl"])
    assert [json.loads(x)["word"] for x in upper.stdout.splitlines()] == [
        json.loads(x)["word"] for x in lower.stdout.splitlines()
    ]


def test_unknown_word_fails_alone_with_exit_1(runner, store_model):
    res = run(runner, ["neighbors", "king", "zzzqqq", "god", "-k", "2", "-f", "tsv"])
    assert res.exit_code == 1
    assert [r[0] for r in tsv(res.stdout)[1:]] == ["king", "king", "god", "god"]
    assert res.stderr.count("\n") == 1 and "unknown word 'zzzqqq'" in res.stderr
    assert res.stderr.startswith("emb: error: ") and "Traceback" not in res.stderr


# ----------------------------------------------------------------------------------------- stdin


def test_neighbors_from_stdin_skips_blank_lines(runner, store_model):
    res = run(runner, ["neighbors", "-k", "2", "-f", "jsonl"], input="king\n\n  \ngod\nzzzqqq\nwater\n")
    assert res.exit_code == 1
    assert [json.loads(x)["query"] for x in res.stdout.splitlines()] == ["king"] * 2 + ["god"] * 2 + ["water"] * 2
    assert "line 5: unknown word 'zzzqqq'" in res.stderr


@pytest.mark.parametrize("through", ["pipe", "in-memory"])
def test_stdin_queries_drop_a_byte_order_mark_and_name_lines_that_are_not_utf8(runner, store_model, through):
    data = b"\xef\xbb\xbfking\nk\xffing\ngod\n"
    if through == "pipe":
        done = subprocess.run([sys.executable, "-m", "embcli", "neighbors", "-k", "1", "-f", "tsv"], input=data,
                              capture_output=True, env=dict(os.environ), timeout=120)
        code, out, err = done.returncode, done.stdout.decode(), done.stderr.decode()
    else:
        res = run(runner, ["neighbors", "-k", "1", "-f", "tsv"], input=data.decode("utf-8", "replace"))
        code, out, err = res.exit_code, res.stdout, res.stderr
    assert code == 1
    assert [r[0] for r in tsv(out)[1:]] == ["king", "god"]  # the query column without the mark
    assert err.strip().splitlines() == [
        "emb: error: line 2: the line is not valid UTF-8 (or holds U+FFFD): convert the input, e.g. with"
        " iconv -f LATIN1 -t UTF-8"]


def test_dash_reads_stdin(runner, store_model):
    res = run(runner, ["neighbors", "-", "-k", "1", "-f", "tsv"], input="king\ngod\n")
    assert res.exit_code == 0 and [r[0] for r in tsv(res.stdout)[1:]] == ["king", "god"]


def test_analogy_from_stdin(runner, store_model, w2v_dir):
    lines = "king man woman\n\nfather man woman\nking man\nking zzzqqq woman\n"
    res = run(runner, ["analogy", "-k", "3", "-f", "tsv"], input=lines)
    assert res.exit_code == 1
    rows = tsv(res.stdout)
    assert rows[0] == ["query", "rank", "word", "score", "oov"]
    assert [r[0] for r in rows[1:]] == ["king man woman"] * 3 + ["father man woman"] * 3
    kv = gensim_keyed_vectors(w2v_dir)
    assert [r[2] for r in rows[4:]] == [w for w, _ in kv.most_similar(positive=["father", "woman"], negative=["man"], topn=3)]
    err = res.stderr.splitlines()
    assert len(err) == 2
    assert err[0].startswith("emb: error: line 4: ") and "3 words" in err[0]
    assert err[1].startswith("emb: error: line 5: unknown word 'zzzqqq'")


def test_analogy_arguments(runner, store_model, w2v_dir):
    res = run(runner, ["analogy", "king", "man", "woman", "--method", "mul", "-f", "jsonl"])
    assert res.exit_code == 0
    kv = gensim_keyed_vectors(w2v_dir)
    expected = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5)
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["word"] for r in rows] == [w for w, _ in expected]
    np.testing.assert_allclose([r["score"] for r in rows], [s for _, s in expected], atol=1e-5)


def test_analogy_wrong_number_of_arguments_is_usage_error(runner, store_model):
    res = run(runner, ["analogy", "king", "man"])
    assert res.exit_code == 2 and "expected 3 words, got 2" in res.stderr
    # doesnt-match with one word printed a header and exited 1, unlike the others' usage error.
    res = run(runner, ["doesnt-match", "king"])
    assert res.exit_code == 2 and "expected 2 or more words, got 1" in res.stderr and res.stdout == ""


def test_a_case_sensitive_model_names_the_word_in_its_case(runner, tmp_path):
    """Imported vectors are matched exactly: an unknown word that the model holds in another case says so."""
    vec = tmp_path / "cs.txt"
    vec.write_text("3 2\nking 1 2\nParis 2 3\nUSA 5 6\n", encoding="utf-8")
    assert run(runner, ["import", str(vec), "--name", "cs", "-q"]).exit_code == 0
    for query, held in (("King", "king"), ("paris", "Paris"), ("usa", "USA")):
        res = run(runner, ["neighbors", "-m", "cs", query])
        assert res.exit_code == 1 and f"(it has {held!r}: its words are matched case for case)" in res.stderr
    res = run(runner, ["neighbors", "-m", "cs", "zzz"])
    assert res.exit_code == 1 and "it has" not in res.stderr
    # A cosine is at most 1, where float32 rounding of a unit vector gives 1.0000001 for one word in five.
    rng = np.random.default_rng(0)
    rows = [f"w{i} " + " ".join(f"{x:.4f}" for x in rng.standard_normal(20)) for i in range(50)]
    (tmp_path / "r.txt").write_text("50 20\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert run(runner, ["import", str(tmp_path / "r.txt"), "--name", "r", "-q"]).exit_code == 0
    res = run(runner, ["similarity", "-m", "r", "-f", "jsonl"], input="".join(f"w{i} w{i}\n" for i in range(50)))
    scores = [json.loads(line)["score"] for line in res.stdout.splitlines()]
    assert res.exit_code == 0 and len(scores) == 50 and max(scores) == 1.0 and min(scores) > 0.9999


def test_similarity_arguments_and_stdin(runner, store_model, w2v_dir):
    kv = gensim_keyed_vectors(w2v_dir)
    res = run(runner, ["similarity", "king", "god", "-f", "json"])
    assert res.exit_code == 0
    (row,) = json.loads(res.stdout)
    assert row["word1"] == "king" and row["score"] == pytest.approx(float(kv.similarity("king", "god")), abs=1e-6)
    res = run(runner, ["similarity", "-f", "tsv"], input="king god\nwater fire\n\nking\nking zzzqqq\n")
    assert res.exit_code == 1
    rows = tsv(res.stdout)
    assert rows[0] == ["word1", "word2", "score", "oov"]
    assert [r[:2] for r in rows[1:]] == [["king", "god"], ["water", "fire"]]
    assert float(rows[2][2]) == pytest.approx(float(kv.similarity("water", "fire")), abs=1e-5)
    assert "line 4: " in res.stderr and "line 5: unknown word" in res.stderr


def test_similarity_wrong_number_of_arguments(runner, store_model):
    assert run(runner, ["similarity", "king"]).exit_code == 2


def test_vector_raw_normalized_and_stdin(runner, store_model, w2v_dir):
    kv = gensim_keyed_vectors(w2v_dir)
    res = run(runner, ["vector", "king", "-f", "tsv"])
    rows = tsv(res.stdout)
    assert rows[0] == ["query", "word", "oov", "vector"]
    np.testing.assert_array_equal(np.array(rows[1][3].split(), dtype=np.float32), kv["king"])
    res = run(runner, ["vector", "--normalize", "-f", "jsonl"], input="King\nzzzqqq\ngod\n")
    assert res.exit_code == 1 and "line 2: unknown word" in res.stderr
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [(r["query"], r["word"]) for r in rows] == [("King", "king"), ("god", "god")]
    assert np.linalg.norm(rows[0]["vector"]) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(rows[1]["vector"], kv.get_vector("god", norm=True), atol=1e-6)


def test_fasttext_marks_oov_rows(runner, ft_dir):
    res = run(runner, ["neighbors", "kingz", "king", "-k", "2", "-m", str(ft_dir), "-f", "jsonl"])
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [(r["query"], r["oov"]) for r in rows] == [("kingz", True)] * 2 + [("king", False)] * 2
    res = run(runner, ["vector", "kingz", "-m", str(ft_dir), "-f", "tsv"])
    assert tsv(res.stdout)[1][2] == "true"


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("cmd", [["neighbors", "king"], ["analogy", "a", "b", "c"], ["similarity", "a", "b"], ["vector", "a"]])
def test_no_model_at_all(runner, cmd):
    res = run(runner, cmd)
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr == "emb: error: no model yet: train one with `emb train FILE`, or pass -m\n"


def test_unknown_model_name_lists_the_models(runner, store_model):
    res = run(runner, ["neighbors", "king", "-m", "nope"])
    assert res.exit_code == 1
    assert "no model named 'nope'" in res.stderr and "web-small" in res.stderr


def test_damaged_model_folder(runner, store_model):
    vocab = store_model / "vocab.txt"
    vocab.write_text("\n".join(vocab.read_text(encoding="utf-8").split("\n")[2:]), encoding="utf-8")
    res = run(runner, ["neighbors", "king"])
    assert res.exit_code == 1 and res.stdout == ""
    assert "vocab.txt" in res.stderr and "words but vectors.npy has" in res.stderr


def test_truncated_vectors_file(runner, store_model):
    path = store_model / "vectors.npy"
    with open(path, "r+b") as fh:
        fh.truncate(1000)
    res = run(runner, ["neighbors", "king"])
    assert res.exit_code == 1 and "vectors.npy: truncated vectors: 1000 bytes" in res.stderr


def test_missing_vectors_file(runner, store_model):
    (store_model / "vectors.npy").unlink()
    res = run(runner, ["similarity", "king", "god"])
    assert res.exit_code == 1 and "vectors.npy: missing vectors" in res.stderr


@pytest.mark.parametrize("k", ["0", "-3"])
def test_k_zero_is_usage_error(runner, store_model, k):
    res = run(runner, ["neighbors", "king", "-k", k])
    assert res.exit_code == 2 and "-k" in res.stderr
    res = run(runner, ["analogy", "king", "man", "woman", "-k", k])
    assert res.exit_code == 2


def test_bad_metric_is_usage_error(runner, store_model):
    res = run(runner, ["neighbors", "king", "--metric", "manhattan"])
    assert res.exit_code == 2 and "'manhattan' is not one of" in res.stderr


# ------------------------------------------------------------------------------ the query path


def test_query_path_imports_no_gensim(tmp_path, w2v_dir):
    """A fresh process answering a query never imports gensim (nor pandas, scipy, or rich for TSV)."""
    code = (
        "import sys\n"
        "from embcli.cli.app import main\n"
        f"sys.argv = ['emb', 'neighbors', 'king', 'god', '-m', {str(w2v_dir)!r}, '-f', 'tsv']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'gensim', 'pandas', 'scipy', 'rich', 'pydantic'})\n"
        "print('HEAVY', heavy)\n"
        # nor the code that writes models, embeds lines, maps or trains (the API imports on first use)
        "unused = {'embcli.folder.writer', 'embcli.api.lines', 'embcli.api.maps', 'embcli.api.corpora',"
        " 'embcli.api.files', 'embcli.api.results', 'embcli.training', 'embcli.formats', 'embcli.folder.atomic'}\n"
        "print('UNUSED', sorted(set(sys.modules) & unused))\n"
    )
    env = {**os.environ, "EMB_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "query\trank\tword\tscore\toov" and len(lines) == 1 + 20 + 2
    assert lines[-2:] == ["HEAVY []", "UNUSED []"], proc.stderr


def test_stdin_batches_from_a_real_pipe(tmp_path, w2v_dir):
    """Through a real pipe (select + os.read): every query answered once, in order."""
    words = ["king", "god", "water", "land"] * 300
    env = {**os.environ, "EMB_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "embcli", "neighbors", "-k", "1", "-m", str(w2v_dir), "-f", "tsv"],
        input="\n".join(words),  # no final newline: the last line still counts
        capture_output=True, text=True, env=env, check=True,
    )
    rows = tsv(proc.stdout)
    assert rows[0][0] == "query" and [r[0] for r in rows[1:]] == words


@pytest.mark.parametrize(
    "args, message",
    [
        (["neighbors", "king", "-k", "x"], "'x' is not a valid int"),
        (["neighbors", "king", "--restrict", "0"], "--restrict must be at least 1 (got 0)"),
        (["neighbors", "king", "-k", "0"], "-k must be at least 1 (got 0)"),
        (["similar", "king", "-k", "-1"], "-k must be at least 1 (got -1)"),
        (["analogy", "a", "b", "c", "--method", "sub"], "'sub' is not one of 'add', 'mul'"),
        (["vector", "king", "-f", "csv"], "'csv' is not one of"),
    ],
)
def test_parameter_errors_are_usage_errors(runner, store_model, args, message):
    res = run(runner, args)
    assert res.exit_code == 2 and message in res.stderr and res.stdout == ""


def test_empty_stdin_answers_nothing(runner, store_model):
    """No queries: TSV is still a table, its header line and no rows; a note on stderr says so."""
    res = run(runner, ["neighbors", "-f", "tsv"], input="\n\n")
    assert res.exit_code == 0 and res.stdout == "query\trank\tword\tscore\toov\n"
    assert res.stderr == "emb: no query read: stdin held no query (give words, or pipe one query a line)\n"


def test_answers_each_line_before_the_next_arrives(tmp_path, w2v_dir):
    """Behind a pipe, a query's answer is written and flushed before stdin ends (interactive use)."""
    import select

    env = {**os.environ, "EMB_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "embcli", "neighbors", "-k", "2", "-m", str(w2v_dir), "-f", "tsv"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )

    def read_lines(n):
        out = b""
        while out.count(b"\n") < n:
            # A generous limit only so that a broken build fails instead of hanging.
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, f"no answer while stdin is still open; got {out!r}"
            out += os.read(proc.stdout.fileno(), 4096)
        return out.decode().splitlines()

    try:
        proc.stdin.write(b"king\n")
        proc.stdin.flush()
        lines = read_lines(3)
        assert lines[0] == "query\trank\tword\tscore\toov" and [x.split("\t")[0] for x in lines[1:]] == ["king"] * 2
        proc.stdin.write(b"god\n")
        proc.stdin.flush()
        assert [x.split("\t")[0] for x in read_lines(2)] == ["god"] * 2
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0


FIELDS = {
    "neighbors": (["king"], ["query", "rank", "word", "score", "oov"]),
    "analogy": (["king", "man", "woman"], ["query", "rank", "word", "score", "oov"]),
    "similarity": (["king", "god"], ["word1", "word2", "score", "oov"]),
    "vector": (["king"], ["query", "word", "oov", "vector"]),
}


@pytest.mark.parametrize("fmt", ["tsv", "json", "jsonl", "table"])
@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_in_every_format(runner, store_model, cmd, fmt):
    words, fields = FIELDS[cmd]
    res = run(runner, [cmd, *words, "-f", fmt])
    assert res.exit_code == 0 and res.stderr == ""
    if fmt == "tsv":
        rows = tsv(res.stdout)
        assert rows[0] == fields and len(rows) > 1 and all(len(r) == len(fields) for r in rows)
    elif fmt in ("json", "jsonl"):
        rows = json.loads(res.stdout) if fmt == "json" else [json.loads(x) for x in res.stdout.splitlines()]
        assert rows and all(list(r) == fields for r in rows)
    else:
        header = res.stdout.splitlines()[0]
        assert all(f in header for f in fields) and "king" in res.stdout
