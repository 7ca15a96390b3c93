"""``emb embed`` and ``emb search`` end to end: stdout, stderr and exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error, invoke
from query_models import install, small_corpus_file, w2v_dir, write_toy_model  # noqa: F401

from embcli.folder import ModelFolder
from embcli.sentences import Embedder


@pytest.fixture
def store_model(w2v_dir):
    return install(w2v_dir, "web-small")


def rows(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()]


@pytest.mark.parametrize("cmd", ["embed", "search"])
def test_help(cmd):
    res = invoke([cmd, "--help"])
    assert res.exit_code == 0 and "Examples" in res.stdout and "--pooling" in res.stdout


@pytest.mark.parametrize("source", ["file", "stdin", "dash"])
def test_embed_tsv_from_file_or_stdin(store_model, tmp_path, web_lines, source):
    lines = web_lines[:30]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = {"file": ["embed", path], "stdin": ["embed"], "dash": ["embed", "-"]}[source]
    res = invoke(args, input=None if source == "file" else path.read_text())
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    out = rows(res.stdout)
    assert out[0] == ["line", "text", "vector"] and len(out) == 31
    assert [r[0] for r in out[1:]] == [str(i) for i in range(1, 31)] and out[5][1] == lines[4]
    got = np.array([[float(x) for x in r[2].split()] for r in out[1:]], dtype=np.float32)
    np.testing.assert_array_equal(got, Embedder(ModelFolder(store_model), "mean").embed(lines).vectors)


def test_embed_reports_lines_without_known_words_and_drops_them_when_asked(store_model, web_lines):
    text = "\n".join([web_lines[0], "", "qqqzz xxyyz", web_lines[1]]) + "\n"
    res = invoke(["embed", "-f", "jsonl"], input=text)
    assert res.exit_code == 0
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["line"] for o in objs] == [1, 2, 3, 4] and objs[1]["vector"] == [0.0] * len(objs[0]["vector"])
    assert res.stderr == "emb: warning: 2 of 4 lines have no word in the model's vocabulary (zero vectors)\n"
    res = invoke(["embed", "-f", "jsonl", "--empty", "drop"], input=text)
    assert [json.loads(line)["line"] for line in res.stdout.splitlines()] == [1, 4]
    assert "(left out)" in res.stderr and res.exit_code == 0


def test_embed_npy_and_parquet_files(store_model, tmp_path, web_lines):
    text = "\n".join(web_lines[:40]) + "\n"
    res = invoke(["embed", "-f", "npy", "-o", tmp_path / "v.npy"], input=text)
    assert res.exit_code == 0 and res.stdout == ""
    vectors = np.load(tmp_path / "v.npy")
    assert vectors.shape == (40, 32)
    res = invoke(["embed", "-p", "sif", "-f", "parquet", "-o", tmp_path / "v.parquet"], input=text)
    assert res.exit_code == 0, res.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "v.parquet")
    assert table.column_names == ["line", "text", "vector"] and table.num_rows == 40
    meta = json.loads(table.schema.metadata[b"emb"])
    assert meta["pooling"] == "sif" and len(meta["sif_component"]) == 32 and meta["model"] == "web-small"
    assert not list(tmp_path.glob("*.part"))


def test_embed_refuses_to_replace_a_file_without_force(store_model, tmp_path, web_lines):
    out = tmp_path / "mine.tsv"
    out.write_text("precious\n", encoding="utf-8")
    text = "\n".join(web_lines[:5]) + "\n"
    assert_clean_error(invoke(["embed", "-o", out], input=text), 1, f"{out} exists: pass --force to replace it")
    assert out.read_text(encoding="utf-8") == "precious\n"
    res = invoke(["embed", "-o", out, "--force"], input=text)
    assert res.exit_code == 0, res.stderr
    assert len(rows(out.read_text(encoding="utf-8"))) == 6


def test_embed_takes_the_format_from_the_output_suffix(store_model, tmp_path, web_lines):
    text = tmp_path / "in.txt"
    text.write_text("\n".join(web_lines[:6]) + "\n", encoding="utf-8")
    for name, head in (("d.parquet", b"PAR1"), ("v.npy", b"\x93NUMPY"), ("v.tsv", b"line\ttext")):
        res = invoke(["embed", text, "-o", tmp_path / name, "-q"])
        assert res.exit_code == 0, res.stderr
        assert (tmp_path / name).read_bytes()[: len(head)] == head
    assert_clean_error(invoke(["embed", text, "-o", tmp_path / "x.parquet", "-f", "tsv"]), 2,
                       "is named .parquet but the format is tsv")
    assert not (tmp_path / "x.parquet").exists()
    # search reads the Parquet, and refuses a file named .parquet that is not one
    res = invoke(["search", "the", "--docs", tmp_path / "d.parquet", "-k", "1", "-f", "tsv"])
    assert res.exit_code == 0, res.stderr
    (tmp_path / "fake.parquet").write_text("line\ttext\tvector\n", encoding="utf-8")
    assert_clean_error(invoke(["search", "the", "--docs", tmp_path / "fake.parquet"]), 2, "not a Parquet file")
    # the output is never one of the inputs
    assert_clean_error(invoke(["embed", text, "-o", text, "--force"]), 2, "is also an input")
    assert text.read_text(encoding="utf-8").splitlines()[0] == web_lines[0]


def test_embed_refuses_non_utf8_input(store_model, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\ncaf\xe9 au lait\n".encode("latin-1"))
    res = invoke(["embed", path, "-o", tmp_path / "out.tsv"])
    assert_clean_error(res, 1, "line 2: not UTF-8", "iconv")
    assert not (tmp_path / "out.tsv").exists() and not (tmp_path / "out.tsv.part").exists()


def test_embed_sif_without_counts_names_the_pooling_that_works(tmp_path):
    folder = write_toy_model(tmp_path / "toy", ["a", "b"], np.eye(2))
    res = invoke(["embed", "-m", folder, "-p", "sif"], input="a b\n")
    assert_clean_error(res, 1, "needs word counts", "--pooling mean")


def test_search_text_and_parquet_docs_give_the_same_answers(store_model, tmp_path, web_lines):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(web_lines[:500]) + "\n", encoding="utf-8")
    res = invoke(["embed", docs, "-f", "parquet", "-o", tmp_path / "docs.parquet"])
    assert res.exit_code == 0
    query = web_lines[99]
    a = invoke(["search", query, "--docs", docs, "-k", "3"])
    b = invoke(["search", query, "--docs", tmp_path / "docs.parquet", "-k", "3"])
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout
    # One verse of these has no word the tiny model knows: said when the text is embedded.
    assert a.stderr == "emb: warning: 1 of 500 documents have no word in the model's vocabulary\n"
    out = rows(a.stdout)
    assert out[0] == ["query", "rank", "line", "score", "text"]
    assert out[1][:3] == [query, "1", "100"] and out[1][4] == query and float(out[1][3]) == pytest.approx(1, abs=1e-5)


def test_search_queries_from_stdin_and_one_bad_query(store_model, tmp_path, web_lines):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(web_lines[:300]) + "\n", encoding="utf-8")
    res = invoke(["search", "--docs", docs, "-k", "2", "-f", "jsonl"], input=f"{web_lines[5]}\nqqqzz xxyyz\n\n{web_lines[7]}\n")
    assert res.exit_code == 1
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(o["query"], o["rank"], o["line"]) for o in objs if o["rank"] == 1] == [(web_lines[5], 1, 6), (web_lines[7], 1, 8)]
    errors = [line for line in res.stderr.splitlines() if line.startswith("emb: error")]
    assert len(errors) == 1 and errors[0].startswith("emb: error: line 2: query 'qqqzz xxyyz' has no word")


def test_search_refuses_bad_collections(store_model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"line": [1], "text": ["a"]}), tmp_path / "novec.parquet")
    assert_clean_error(invoke(["search", "the", "--docs", tmp_path / "novec.parquet"]), 1, "no 'vector' column")
    pq.write_table(pa.table({"vector": [[1.0, 2.0]]}), tmp_path / "narrow.parquet")
    assert_clean_error(invoke(["search", "the", "--docs", tmp_path / "narrow.parquet"]), 2, "dimension 2", "has 32")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"caf\xe9\n")
    assert_clean_error(invoke(["search", "the", "--docs", bad]), 1, "not UTF-8")
    assert_clean_error(invoke(["search", "the", "--docs", tmp_path / "missing.txt"]), 1, "no such file")
    # A missing .parquet was said to be "named .parquet but not a Parquet file".
    assert_clean_error(invoke(["search", "the", "--docs", tmp_path / "missing.parquet"]), 1, "no such file")
    # A model exported to Parquet (word, count, vector) was searched as documents with empty texts.
    assert invoke(["export", "-m", "web-small", tmp_path / "model.parquet"]).exit_code == 0
    assert_clean_error(invoke(["search", "the", "--docs", tmp_path / "model.parquet"]), 1, "a model's vectors",
                       "not documents")


def test_embed_creates_missing_folders_like_export(store_model, tmp_path):
    res = invoke(["embed", "-o", tmp_path / "no" / "such" / "v.tsv"], input="the lord\n")
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "no" / "such" / "v.tsv").read_text().splitlines()[0] == "line\ttext\tvector"


def test_embed_into_a_file_where_a_folder_should_be_is_one_line(store_model, tmp_path):
    (tmp_path / "file").write_text("x")
    res = invoke(["embed", "-o", tmp_path / "file" / "v.tsv"], input="the lord\n")
    assert res.exit_code == 1 and res.stdout == "" and "Traceback" not in res.stderr
    assert res.stderr.startswith("emb: error: ") and res.stderr.count("\n") == 1


def test_search_warns_when_the_parquet_came_from_another_model(store_model, tmp_path, web_lines):
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(web_lines[:50]) + "\n", encoding="utf-8")
    assert invoke(["embed", docs, "-f", "parquet", "-o", tmp_path / "d.parquet"]).exit_code == 0
    words = ["the", "lord", "god", "earth"]
    other = write_toy_model(tmp_path / "other", words, np.random.default_rng(0).standard_normal((4, 32)))
    res = invoke(["search", "the lord", "--docs", tmp_path / "d.parquet", "-m", other, "-k", "1"])
    assert res.exit_code == 0 and "was embedded with model 'web-small', searched with 'other'" in res.stderr
    same = invoke(["search", "the lord", "--docs", tmp_path / "d.parquet", "-k", "1"])
    assert same.exit_code == 0 and same.stderr == ""


def test_tsv_cells_hold_no_tabs_or_carriage_returns(store_model, tmp_path):
    res = invoke(["embed"], input="the\tlord\rgod\n")
    assert res.exit_code == 0 and res.stdout.splitlines()[1].split("\t")[1] == "the lord god"
    # emb search's text column too: a bare \r there made csv readers see two rows
    import csv
    import io

    docs = tmp_path / "cr.txt"
    docs.write_bytes(b"the lord\rgod\nking\n")
    res = invoke(["search", "lord", "--docs", docs, "-k", "2"])
    assert res.exit_code == 0 and "\r" not in res.stdout
    rows = list(csv.reader(io.StringIO(res.stdout), delimiter="\t"))
    assert len(rows) == 3 and "the lord god" in [cell for row in rows for cell in row]


def test_search_refuses_documents_embedded_before_the_model_was_replaced(store_model, tmp_path, web_lines, emb_home):
    """Retrained under the same name, the model was searched against the old model's vectors, silently."""
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(web_lines[:50]) + "\n", encoding="utf-8")
    assert invoke(["embed", docs, "-f", "parquet", "-o", tmp_path / "d.parquet"]).exit_code == 0
    assert invoke(["search", "the lord", "--docs", tmp_path / "d.parquet", "-k", "1"]).exit_code == 0
    meta = json.loads((emb_home / "models" / "web-small" / "meta.json").read_text())
    meta["created"] = "2099-01-01T00:00:00+0000"  # as a new training under the same name writes it
    (emb_home / "models" / "web-small" / "meta.json").write_text(json.dumps(meta))
    res = invoke(["search", "the lord", "--docs", tmp_path / "d.parquet", "-k", "1"])
    assert_clean_error(res, 1, "has been replaced since", "embed the documents again")


@pytest.mark.parametrize("how", ["argument", "stdin"])
def test_search_refuses_queries_that_are_not_utf8(store_model, tmp_path, how):
    """They were searched for with U+FFFD in them (stdin), or as lone surrogates (an argument)."""
    docs = tmp_path / "docs.txt"
    docs.write_text("the king\nthe lord\n", encoding="utf-8")
    if how == "argument":
        res = invoke(["search", "king\udcff", "--docs", docs])
        code, out, err = res.exit_code, res.stdout, res.stderr
    else:  # through a real process: the test runner's stdin would decode the bytes itself
        import os
        import subprocess
        import sys

        run = subprocess.run([sys.executable, "-m", "embcli", "search", "--docs", str(docs)], input=b"king\xff\nking\n",
                             capture_output=True, timeout=120, env=dict(os.environ))
        code, out, err = run.returncode, run.stdout.decode(), run.stderr.decode()
    assert code == 1 and "not valid UTF-8" in err and "Traceback" not in err, err
    assert ("\tthe king" in out) == (how == "stdin")  # the good query is still answered


@pytest.mark.parametrize("cmd", [["neighbors"], ["vector"], ["similar"], ["similarity", "the"], ["analogy", "the", "of"],
                                 ["doesnt-match", "the", "of"]])
def test_a_query_word_that_is_not_utf8_is_one_line(store_model, cmd):
    """A command-line word with bytes that are not UTF-8 (Python's lone surrogates) was a traceback."""
    res = invoke([*cmd, "king\udcff"])
    assert res.exit_code in (1, 2) and "Traceback" not in res.stderr, res.stderr
    assert "is not valid UTF-8" in res.stderr


def test_search_takes_a_glob_of_documents(store_model, tmp_path):
    """The check that a --docs path exists refused every glob (a text collection may be one)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("the king\nthe lord\n", encoding="utf-8")
    (folder / "b.txt").write_text("the earth\n", encoding="utf-8")
    res = invoke(["search", "the earth", "--docs", str(folder / "*.txt"), "-k", "1", "-f", "tsv"])
    assert res.exit_code == 0, res.stderr
    fields = res.stdout.splitlines()[1].split("\t")
    assert fields[2] == "3" and fields[4] == "the earth"  # line 3 of the two files together


def test_a_parquet_of_a_model_file_survives_its_cache_entry_made_again(tmp_path, web_lines, emb_home, store_model):
    """-m FILE imports into a cache entry named after the file; made again, it was taken for a replaced model."""
    import shutil

    assert invoke(["export", "-m", "web-small", tmp_path / "w.vec", "--format", "fasttext-vec"]).exit_code == 0
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(web_lines[:30]) + "\n", encoding="utf-8")
    assert invoke(["embed", docs, "-m", tmp_path / "w.vec", "-o", tmp_path / "d.parquet"]).exit_code == 0
    shutil.rmtree(emb_home / "cache")
    res = invoke(["search", "the lord", "-m", tmp_path / "w.vec", "--docs", tmp_path / "d.parquet", "-k", "1"])
    assert res.exit_code == 0, res.stderr


def test_one_query_word_that_is_not_utf8_fails_alone(store_model):
    res = invoke(["neighbors", "king\udcff", "the", "-k", "1", "-f", "tsv"])
    assert res.exit_code == 1 and "is not valid UTF-8" in res.stderr and "Traceback" not in res.stderr
    assert [line.split("\t")[0] for line in res.stdout.splitlines()[1:]] == ["the"]



def test_search_says_when_stdin_held_no_query(store_model, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("the king\nthe lord\n", encoding="utf-8")
    res = invoke(["search", "--docs", docs], input="")
    assert res.exit_code == 0 and "no query read" in res.stderr
    assert res.stdout.splitlines() == ["query\trank\tline\tscore\ttext"]
    res = invoke(["search", "--docs", docs], input="the king\n")
    assert res.exit_code == 0 and "no query read" not in res.stderr and len(res.stdout.splitlines()) > 1
