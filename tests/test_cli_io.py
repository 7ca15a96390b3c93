"""``emb import``, ``emb export``, ``emb convert`` end to end, and ``-m FILE``."""

from __future__ import annotations

import os

import numpy as np
import pytest
from gensim.test.utils import datapath
from conftest import assert_clean_error, invoke
from typer.testing import CliRunner

from embcli.cli.app import app
from embcli.formats import READABLE, WRITABLE
from embcli.folder import ModelFolder
from embcli.open import open_model
from embcli.store import ModelStore

runner = CliRunner()
GLOVE = datapath("test_glove.txt")
LEE_BIN = datapath("lee_fasttext.bin")


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


@pytest.mark.parametrize("command", ["import", "export", "convert"])
def test_help_lists_every_format_from_the_registry(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    names = READABLE if command == "import" else WRITABLE
    for name in names:
        assert name in result.stdout
    assert "Examples" in result.stdout


def test_import_file_then_query_its_store_entry(emb_home):
    result = run("import", GLOVE, "--name", "glove-test")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "imported" in result.stderr and "(glove)" in result.stderr and "76 words x 50 dims" in result.stderr
    store = ModelStore()
    assert store.default_name() == "glove-test"
    model = open_model("glove-test")
    assert model.vocab_size == 76 and model.dim == 50 and model.words[0] == "the"
    assert model.meta["import"]["format"] == "glove"


def test_import_default_name_limit_and_existing_name(emb_home):
    result = run("import", LEE_BIN, "--limit", "100", "--no-default")
    assert result.exit_code == 0, result.stderr
    model = open_model("lee_fasttext")
    assert model.vocab_size == 100 and model.ngrams is not None
    assert ModelStore().default_name() is None
    again = run("import", LEE_BIN)
    assert again.exit_code == 1
    assert again.stderr.startswith("emb: error: model 'lee_fasttext' exists: pass --force")
    assert run("import", LEE_BIN, "--force").exit_code == 0


@pytest.mark.parametrize("how", ["argument", "stdin"])
def test_import_from_file_or_stdin(tmp_path, how):
    text = b"3 2\nalpha 1 2\nbeta 3 4\ngamma 5.5 -6\n"
    if how == "argument":
        path = tmp_path / "v.txt"
        path.write_bytes(text)
        result = run("import", str(path), "--name", "v")
    else:
        result = run("import", "-", "--name", "v", input=text)
    assert result.exit_code == 0, result.stderr
    model = open_model("v")
    assert model.words == ["alpha", "beta", "gamma"]
    assert model.vectors.tolist() == [[1, 2], [3, 4], [5.5, -6]]


def test_import_reports_duplicates_and_lossy(tmp_path):
    path = tmp_path / "d.txt"
    path.write_bytes(b"a 1 2\nb 3 4\na 5 6\nc\xff 7 8\n")
    bad = run("import", str(path), "--name", "d")
    assert bad.exit_code == 1
    assert "line 4" in bad.stderr and "--lossy" in bad.stderr and bad.stderr.count("\n") == 1
    good = run("import", str(path), "--name", "d", "--lossy")
    assert good.exit_code == 0
    assert "skipped 1 duplicate word(s)" in good.stderr and "replaced 1 invalid UTF-8 byte(s)" in good.stderr
    assert open_model("d").words == ["a", "b", "c\ufffd"]


@pytest.mark.parametrize("counts, kept", [([10, None, 3], None), ([10, -5, 3], None), ([None, None, None], None),
                                           ([10, 4, 3], [10, 4, 3])])
def test_parquet_counts_missing_for_some_words_are_said_to_be_left_out(tmp_path, counts, kept):
    """Counts with a null or a negative value were dropped without a word; a column of nulls only
    (pyarrow's null type) was reported as damaged data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"word": ["a", "b", "c"], "count": counts,
                             "vector": pa.array([[1, 0], [0, 1], [1, 1]], pa.list_(pa.float32(), 2))}), path)
    result = run("import", str(path), "--name", "c")
    assert result.exit_code == 0, result.stderr
    model = open_model("c")
    assert model.words == ["a", "b", "c"]
    assert (None if model.counts is None else model.counts.tolist()) == kept
    partly = kept is None and any(c is not None for c in counts)
    assert ("left the word counts out: 1 of 3 words has none" in result.stderr) == partly, result.stderr
    assert model.meta["import"].get("counts_left_out_for") == (1 if partly else None)


def test_rows_counted_in_another_order_are_put_most_frequent_first(tmp_path):
    """A folder keeps its rows most frequent first: --restrict 2 answered from rare words before."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "u.parquet"
    vectors = [[1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1]]
    pq.write_table(pa.table({"word": ["rare1", "rare2", "common", "mid"], "count": [1, 2, 1000, 2],
                             "vector": pa.array(vectors, pa.list_(pa.float32(), 2))}), path)
    result = run("import", str(path), "--name", "u")
    assert result.exit_code == 0 and "most frequent first" in result.stderr, result.stderr
    model = open_model("u")
    assert model.words == ["common", "rare2", "mid", "rare1"]  # ties keep the file's order
    assert model.counts.tolist() == [1000, 2, 2, 1]
    np.testing.assert_array_equal(model.vectors, np.asarray(vectors, dtype=np.float32)[[2, 1, 3, 0]])
    np.testing.assert_allclose(model.norms, np.linalg.norm(model.vectors, axis=1), rtol=1e-6)
    assert model.meta["import"]["sorted_by_count"] is True
    near = run("neighbors", "-m", "u", "rare2", "-k", "1", "--restrict", "2", "-f", "tsv")
    assert near.stdout.splitlines()[1].split("\t")[2] == "common"
    # Counts already in order leave the file's order and say nothing.
    pq.write_table(pa.table({"word": ["a", "b"], "count": [5, 5],
                             "vector": pa.array([[1, 0], [0, 1]], pa.list_(pa.float32(), 2))}), tmp_path / "s.parquet")
    result = run("import", str(tmp_path / "s.parquet"), "--name", "s")
    assert open_model("s").words == ["a", "b"] and "most frequent first" not in result.stderr


def test_import_errors_are_one_line_with_exit_code(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("2 3\na 1 2 3\nb 1 oops 3\n")
    result = run("import", str(path))
    assert result.exit_code == 1
    assert result.stderr == f"emb: error: {path}: line 3, column 3: 'oops' is not a number\n"
    missing = run("import", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    usage = run("import", str(path), "--format", "nope")
    assert usage.exit_code == 2


def test_export_to_stdout_and_files(tmp_path):
    assert run("import", GLOVE, "--name", "g").exit_code == 0
    out = run("export", "-m", "g", "-", "--limit", "2")
    assert out.exit_code == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "2 50" and lines[1].startswith("the 0.418 0.24968 ") and len(lines) == 3
    assert "exported model 'g' to stdout (word2vec): 2 words x 50 dims" in out.stderr
    glove = run("export", "-", "--format", "glove", "--normalize", "--limit", "1")
    values = np.array(glove.stdout.split()[1:], dtype=np.float64)
    assert glove.stdout.startswith("the ") and abs(np.linalg.norm(values) - 1) < 1e-6
    target = tmp_path / "g.parquet"
    assert run("export", str(target)).exit_code == 0
    again = run("export", str(target))
    assert again.exit_code == 1 and "--force" in again.stderr
    assert run("export", str(tmp_path / "g.unknown")).exit_code == 2


def test_export_read_only_format_is_not_offered():
    result = run("export", "-", "--format", "fasttext-bin")
    assert result.exit_code == 2


def test_convert_without_touching_the_store(tmp_path, emb_home):
    target = tmp_path / "lee.vec.gz"
    result = run("convert", LEE_BIN, str(target))
    assert result.exit_code == 0, result.stderr
    assert "(fasttext-bin) to" in result.stderr and "(fasttext-vec): 1,762 words x 10 dims" in result.stderr
    assert not (emb_home / "models").exists()
    back = run("convert", str(target), "-", "--to", "glove", "--limit", "1")
    assert back.exit_code == 0 and back.stdout.startswith("the ") and len(back.stdout.split()) == 11
    piped = run("convert", "-", str(tmp_path / "p.bin"), "--from", "glove", input=open(GLOVE, "rb").read())
    assert piped.exit_code == 0, piped.stderr
    folder = tmp_path / "m"
    assert run("convert", str(tmp_path / "p.bin"), str(folder), "--to", "folder").exit_code == 0
    assert ModelFolder(folder).vocab_size == 76


def test_model_option_accepts_a_file_in_any_supported_format(tmp_path, emb_home):
    first = run("export", "-m", LEE_BIN, "-", "--limit", "1")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("1 10\nthe ")
    cached = list((emb_home / "cache").iterdir())
    assert len(cached) == 1 and (cached[0] / "ngrams.npy").is_file()
    again = run("export", "-m", LEE_BIN, "-", "--limit", "1")
    assert again.stdout == first.stdout and list((emb_home / "cache").iterdir()) == cached
    bad = tmp_path / "bad.vec"
    bad.write_text("2 2\na 1\n")
    result = run("export", "-m", str(bad), "-")
    assert result.exit_code == 1 and "line 2: 1 values, but the header says 2" in result.stderr
    # No cache entry for the bad file ("bad.vec-<hash>"; the hex hash of another entry may spell "bad").
    assert not [p for p in (emb_home / "cache").iterdir() if p.name.startswith("bad.vec") and (p / "meta.json").exists()]


def test_a_file_rewritten_with_its_old_size_and_time_is_read_again(tmp_path, emb_home):
    """cp -p, rsync -t and tar set a file's modification time back: the cache served the old vectors."""
    import os

    path = tmp_path / "m.vec"
    path.write_text("2 2\na 1 1\nb 1 2\n")
    assert run("vector", "a", "-m", str(path)).stdout.split()[-2:] == ["1", "1"]
    st = path.stat()
    replacement = tmp_path / "new.vec"
    replacement.write_text("2 2\na 7 7\nb 1 2\n")  # the same size
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    replacement.replace(path)
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert run("vector", "a", "-m", str(path)).stdout.split()[-2:] == ["7", "7"]


def test_model_file_cache_keeps_the_most_recently_used(tmp_path, emb_home, monkeypatch):
    import embcli.open as formats

    monkeypatch.setattr(formats, "CACHE_ENTRIES", 3)
    files = []
    for i in range(5):
        path = tmp_path / f"m{i}.vec"
        path.write_text(f"2 2\na {i} 1\nb 1 {i}\n")
        files.append(path)
    for path in files[:3]:
        assert run("vector", "a", "-m", str(path)).exit_code == 0
    # Using m0 again makes it the most recent: m1 is the one to go when m3 arrives, then m2 for m4.
    import time

    time.sleep(0.01)
    assert run("vector", "a", "-m", str(files[0])).exit_code == 0
    for path in files[3:]:
        time.sleep(0.01)
        result = run("vector", "a", "-m", str(path))
        assert result.exit_code == 0 and result.stdout.split()[-2:] == [path.stem[1:], "1"]
    kept = sorted(p.name.split("-")[0] for p in (emb_home / "cache").iterdir())
    assert kept == ["m0.vec", "m3.vec", "m4.vec"]


def test_pruning_an_entry_another_process_removed_first_leaves_no_trash(tmp_path, monkeypatch):
    """Two threads pruning the same cache entry: the loser's empty .rm- folder stayed in the cache."""
    import embcli.open as opener

    cache = tmp_path / "cache"
    for i in range(opener.CACHE_ENTRIES + 2):
        (cache / f"m{i}.vec-key{i}").mkdir(parents=True)
    real = os.replace

    def someone_else_was_first(src, dst):
        import shutil

        shutil.rmtree(src)  # the other thread's replace
        return real(src, dst)  # ours fails: FileNotFoundError

    monkeypatch.setattr(opener.os, "replace", someone_else_was_first)
    opener._prune_cache(cache, cache / "m0.vec-key0")
    assert not [p.name for p in cache.iterdir() if p.name.startswith(".")]


def test_export_as_a_folder_keeps_the_state_and_never_replaces_its_source(tmp_path, emb_home):
    """Exported onto its own folder with --force, a model lost its training state (rc 0); exported
    elsewhere, the copy listed state files it did not have."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("the king and the queen\nthe lord and the god\n" * 50, encoding="utf-8")
    assert invoke(["train", corpus, "--dim", "8", "--epochs", "1", "--min-count", "1", "--name", "w"]).exit_code == 0
    own = emb_home / "models" / "w"
    before = sorted(p.relative_to(own) for p in own.rglob("*"))
    res = invoke(["export", "-m", "w", own, "--format", "folder", "--force"])
    assert_clean_error(res, 2, "would replace the model it is read from")
    assert sorted(p.relative_to(own) for p in own.rglob("*")) == before
    copy = tmp_path / "copy"
    assert invoke(["export", "-m", "w", copy, "--format", "folder"]).exit_code == 0
    assert (copy / "state").is_dir()
    info = invoke(["models", "info", copy])
    assert info.exit_code == 0 and "incomplete" not in info.stdout + info.stderr
    assert invoke(["train", corpus, "--continue", copy, "--epochs", "1", "--name", "w2"]).exit_code == 0
