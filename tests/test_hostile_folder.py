"""Hostile model folders, search indexes, disks and standard streams.

Issue items 2 (a damaged ``search-index/``), 10 (full and read-only disks, closed stdin/stdout,
``>/dev/full``) and 13 (tampered model folders).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, invoke

from embcli import prefilter
from embcli.folder import ModelFolder
from embcli.topk import topk
from tests.query_models import write_toy_model

ROWS, DIM = 40, 8  # the size of conftest's vec_file
EMB = [sys.executable, "-m", "embcli"]


@pytest.fixture
def model_dir(vec_file, emb_home) -> Path:
    """Model ``good`` in the store (the default)."""
    assert invoke(["import", vec_file, "--name", "good"]).exit_code == 0
    return emb_home / "models" / "good"


def _emb(args, home: Path, shell: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, EMB_HOME=str(home))
    if shell is not None:
        cmd = " ".join([*(f"'{a}'" for a in EMB), shell])
        return subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=120)
    return subprocess.run([*EMB, *map(str, args)], env=env, capture_output=True, text=True, timeout=120)


def _one_error_line(proc, *fragments) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("emb: error:")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, proc.stderr)


# ----------------------------------------------------------------- 13: tampered model folders


def _set_npy_shape(path: Path, shape: str) -> None:
    data = path.read_bytes()
    size = int.from_bytes(data[8:10], "little")
    header = re.sub(r"'shape': \([^)]*\)", f"'shape': {shape}", data[10 : 10 + size].decode("latin1"))
    path.write_bytes(data[:10] + (header.rstrip("\n").ljust(size - 1) + "\n").encode("latin1") + data[10 + size :])


def _edit_meta(**changes):
    def edit(folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text())
        for key, value in changes.items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        (folder / "meta.json").write_text(json.dumps(meta))

    return edit


def _with_ngrams(grams, **fasttext):
    def edit(folder: Path) -> None:
        if isinstance(grams, bytes):
            (folder / "ngrams.npy").write_bytes(grams)
        else:
            np.save(folder / "ngrams.npy", grams)
        _edit_meta(fasttext=fasttext)(folder)

    return edit


TAMPERED = {
    "0-d norms": (lambda d: np.save(d / "norms.npy", np.float32(1)), "norms"),
    "negative shape": (lambda d: _set_npy_shape(d / "vectors.npy", "(-40, 8)"), "(-40, 8)"),
    "huge shape": (lambda d: _set_npy_shape(d / "vectors.npy", "(4611686018427387904, 8)"), "truncated"),
    "(40, 0) vectors": (lambda d: np.save(d / "vectors.npy", np.zeros((40, 0), np.float32)), "dimension 0"),
    "invalid UTF-8 vocab": (
        lambda d: (d / "vocab.txt").write_bytes(b"\xff\xfe\n" + (d / "vocab.txt").read_bytes().split(b"\n", 1)[1]),
        "not valid UTF-8",
    ),
    "empty ngrams.npy": (_with_ngrams(b"", minn=3, maxn=6, buckets=10), "ngrams.npy"),
    "0-row ngrams.npy": (_with_ngrams(np.zeros((0, DIM), np.float32), minn=3, maxn=6, buckets=10), "n-gram"),
    "minn missing": (_with_ngrams(np.ones((10, DIM), np.float32), maxn=6, buckets=10), "fasttext.minn"),
    "minn a string": (_with_ngrams(np.ones((10, DIM), np.float32), minn="x", maxn=6, buckets=10), "fasttext.minn"),
    "minn above maxn": (_with_ngrams(np.ones((10, DIM), np.float32), minn=7, maxn=6, buckets=10), "fasttext.minn"),
    "dim a string": (_edit_meta(dim="x"), "'dim'"),
    "dim wrong": (_edit_meta(dim=9), "dim 9"),
    "tokenizer mode 5": (_edit_meta(tokenizer={"mode": 5}), "tokenizer.mode"),
    "tokenizer lowercase 'yes'": (_edit_meta(tokenizer={"mode": "unicode", "lowercase": "yes"}), "tokenizer.lowercase"),
    "min_token_length '2'": (_edit_meta(tokenizer={"mode": "unicode", "min_token_length": "2"}), "min_token_length"),
    "tokenizer a list": (_edit_meta(tokenizer=[1]), "'tokenizer'"),
    "meta a list": (lambda d: (d / "meta.json").write_text("[1]"), "not a JSON object"),
    "newer format": (_edit_meta(format_version=99), "newer emb"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_folder_is_one_clean_error_and_models_list_goes_on(case, model_dir, emb_home, tmp_path):
    damage, fragment = TAMPERED[case]
    victim = emb_home / "models" / "victim"
    shutil.copytree(model_dir, victim)
    damage(victim)
    for args in (["neighbors", "w1", "-m", "victim"], ["neighbors", "zzzq", "-m", "victim"],
                 ["export", "-m", victim, tmp_path / "out.txt", "--force"], ["similarity", "w1", "w2", "-m", "victim"]):
        result = invoke(args)
        assert_clean_error(result, 1, fragment)
        assert "damaged" in result.stderr or "newer emb" in result.stderr
    listed = invoke(["models", "list", "-f", "json"])
    assert listed.exit_code == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["good"]["algorithm"] == "imported" and rows["good"]["vocab"] == ROWS
    assert "victim" in rows and "Traceback" not in listed.stderr


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_row_damaged_after_writing_is_named_not_left_out(bad, model_dir, emb_home, tmp_path):
    """emb never writes NaN or infinities: one found later is an error naming the model, word and row.
    Before, searches left such rows out and answered as if nothing were wrong."""
    victim = emb_home / "models" / "victim"
    shutil.copytree(model_dir, victim)
    vectors = np.load(victim / "vectors.npy", mmap_mode="r+")
    vectors[6, 3] = bad  # w6; norms.npy still holds its old, finite norm
    vectors.flush()
    del vectors
    named = ("'victim' is damaged", "'w6' (row 7 of vectors.npy)")
    for args in (["neighbors", "w1", "-m", "victim"], ["neighbors", "w6", "-m", "victim"],
                 ["vector", "w6", "-m", "victim"], ["similarity", "w1", "w6", "-m", "victim"],
                 ["analogy", "w1", "w2", "w3", "-m", "victim"], ["neighbors", "w1", "-m", "victim", "--metric", "dot"]):
        result = invoke(args)  # a query command may have printed its header line before the search
        assert result.exit_code == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        errors = [line for line in result.stderr.splitlines() if line.startswith("emb: error:")]
        assert len(errors) == 1 and all(f in errors[0] for f in named), (args, result.stderr)
        assert "nan" not in result.stdout.lower() and "inf" not in result.stdout.lower(), result.stdout
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("w1\tw2\t1.0\nw6\tw3\t2.0\nw4\tw5\t3.0\n")
    analogies = tmp_path / "analogies.txt"
    analogies.write_text(": one\nw1 w2 w3 w4\nw2 w3 w4 w5\n")
    for args in (["--similarity", pairs], ["--analogies", analogies]):
        result = invoke(["evaluate", "-m", "victim", *args])
        assert result.exit_code == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        assert all(f in result.stderr for f in named) and "nan" not in result.stdout.lower(), result.stderr
    # Many queries at once go through the int8 prefilter: it is built from the rows and refuses too.
    many = invoke(["neighbors", "-m", "victim", "-k", "2"], input="w1\n" * 300)
    assert many.exit_code == 1 and "'w6' (row 7 of vectors.npy)" in many.stderr and "Traceback" not in many.stderr
    import embcli
    from embcli.errors import DamagedRowError

    with pytest.raises(DamagedRowError, match="w6"):
        embcli.load(victim).neighbors("w1")
    # The untouched model answers as before.
    assert invoke(["neighbors", "w1", "-m", "good"]).exit_code == 0


def test_large_finite_values_are_no_damage_and_cosine_answers_right(tmp_path, emb_home):
    """Values near 1e20 are finite in float32, but their squares are not: a query vector's length
    overflowed (every score 0, an arbitrary order) and raw dot products were called damage."""
    path = tmp_path / "huge.txt"
    path.write_text("4 3\na 1e20 2e20 0\nb 2e20 1e20 0\nc 0 1e20 3e20\nd -1e20 0 1e20\n")
    assert invoke(["import", path, "--name", "huge"]).exit_code == 0
    for args, vector in ((["--vector", "-"], "1e20 2e20 0\n"), (["--vector", "-"], "1e37 2e37 0\n"), (["a"], None)):
        result = invoke(["neighbors", *args, "-k", "2", "-f", "tsv"], input=vector)
        assert result.exit_code == 0 and "RuntimeWarning" not in result.stderr, result.stderr
        rows = [line.split("\t") for line in result.stdout.splitlines()[1:]]
        if vector is None:
            assert [r[2] for r in rows] == ["b", "c"] and abs(float(rows[0][3]) - 0.8) < 1e-6
        else:
            assert [r[2] for r in rows] == ["a", "b"] and abs(float(rows[0][3]) - 1) < 1e-6
    for metric in ("dot", "euclidean"):
        result = invoke(["neighbors", "a", "--metric", metric, "-k", "2"])
        assert_clean_error(result, 2, "overflow float32", "--metric cosine")
        assert "damaged" not in result.stderr


def test_a_zero_row_is_no_damage_and_never_an_answer(model_dir, emb_home):
    victim = emb_home / "models" / "zero"
    shutil.copytree(model_dir, victim)
    vectors = np.load(victim / "vectors.npy", mmap_mode="r+")
    vectors[6] = 0
    vectors.flush()
    norms = np.load(victim / "norms.npy", mmap_mode="r+")
    norms[6] = 0
    norms.flush()
    del vectors, norms
    result = invoke(["neighbors", "w1", "-m", "zero", "-k", "39", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    answered = {h["word"] for h in json.loads(result.stdout)}
    assert "w6" not in answered and len(answered) == 38


def test_a_damaged_model_cannot_become_the_default(model_dir, emb_home):
    victim = emb_home / "models" / "victim"
    shutil.copytree(model_dir, victim)
    (victim / "meta.json").write_text("{broken")
    assert_clean_error(invoke(["models", "use", "victim"]), 1, "'victim' cannot be the default", "emb models rm victim")
    assert (emb_home / "default").read_text().strip() == "good"
    assert invoke(["neighbors", "w1"]).exit_code == 0  # the default still answers
    from embcli.api import set_default
    from embcli.errors import ModelError

    with pytest.raises(ModelError, match="cannot be the default"):
        set_default("victim")


def test_a_folder_without_meta_in_the_store_is_named_damaged_everywhere(model_dir, emb_home):
    """'emb models use broken' said 'no model named broken (models: broken, good)'; as the default it
    was 'gone'; a default file naming no model gave an 'invalid model name' that did not say where from."""
    (emb_home / "models" / "broken").mkdir()
    assert_clean_error(invoke(["models", "use", "broken"]), 1, "model 'broken' is damaged", "emb models rm broken")
    (emb_home / "default").write_text("broken\n")
    assert_clean_error(invoke(["neighbors", "w1"]), 1, "the default model 'broken' is damaged", "emb models use NAME")
    (emb_home / "default").write_text("../../x\n")
    assert_clean_error(invoke(["neighbors", "w1"]), 1, "default names '../../x', which is not a model name")
    assert invoke(["models", "use", "good"]).exit_code == 0 and invoke(["neighbors", "w1"]).exit_code == 0


def test_models_list_marks_a_model_whose_meta_is_damaged(model_dir, emb_home):
    victim = emb_home / "models" / "victim"
    shutil.copytree(model_dir, victim)
    (victim / "meta.json").write_text("{not json")
    result = invoke(["models", "list", "-f", "tsv"])
    assert result.exit_code == 0
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines()[1:])
    assert lines["victim"].startswith("damaged") and lines["good"].startswith("imported")
    assert "model 'victim' is damaged" in result.stderr and "emb models rm victim" in result.stderr
    assert invoke(["models", "rm", "victim"]).exit_code == 0


# ----------------------------------------------------------------- 2: a damaged search index


@pytest.fixture
def indexed(tmp_path):
    pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((prefilter.MIN_ROWS + 500, 16)).astype(np.float32)
    folder = write_toy_model(tmp_path / "big", [f"w{i}" for i in range(len(vectors))], vectors)
    m = ModelFolder(folder)
    queries = np.asarray(m.vectors[:200]) / np.asarray(m.norms[:200])[:, None]
    expected = topk(m.vectors, m.norms, queries, 10)
    return folder, queries, expected


def _search(folder: Path, queries):
    m = ModelFolder(folder)
    index = prefilter.index_for(m.path, m.vectors, m.norms)
    return index, lambda: prefilter.topk_cosine(index, m.vectors, m.norms, queries, 10, m.vocab_size)


def test_a_zero_filled_index_is_noticed_and_rebuilt(indexed):
    folder, queries, expected = indexed
    index, run = _search(folder, queries)
    assert np.array_equal(run()[0], expected[0])
    npy = folder / prefilter.INDEX_DIR / "int8.npy"
    size = npy.stat().st_size
    with open(npy, "r+b") as fh:  # same size, same stamp: only the checksums can tell
        fh.seek(size // 2)
        fh.write(b"\0" * (size - size // 2))
    index, run = _search(folder, queries)
    assert np.array_equal(run()[0], expected[0])
    assert not npy.exists()  # removed: the next batch saves a sound one
    index, run = _search(folder, queries)
    assert npy.exists() and np.array_equal(run()[0], expected[0])


def test_an_index_truncated_while_in_use_is_no_bus_error(indexed, tmp_path):
    folder, queries, expected = indexed
    _search(folder, queries)  # build and save it
    np.save(tmp_path / "queries.npy", queries)
    np.save(tmp_path / "expected.npy", expected[0])
    script = f"""
import os, numpy as np
from pathlib import Path
from embcli import prefilter
from embcli.folder import ModelFolder
m = ModelFolder(Path({str(folder)!r}))
index = prefilter.index_for(m.path, m.vectors, m.norms)
os.truncate(m.path / prefilter.INDEX_DIR / "int8.npy", 1000)
rows, _ = prefilter.topk_cosine(index, m.vectors, m.norms, np.load({str(tmp_path / 'queries.npy')!r}), 10, m.vocab_size)
print("same" if np.array_equal(rows, np.load({str(tmp_path / 'expected.npy')!r})) else "differ")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.strip() == "same"


def test_an_index_without_checksums_is_not_used(indexed):
    folder, queries, expected = indexed
    _search(folder, queries)
    info_path = folder / prefilter.INDEX_DIR / "index.json"
    info = json.loads(info_path.read_text())
    del info["crc32"]
    info_path.write_text(json.dumps(info))
    m = ModelFolder(folder)
    assert prefilter.load(folder, m.vectors) is None


# ----------------------------------------------------------------- 10: full and read-only disks, stdio


def test_export_to_dev_full_is_one_clean_error(model_dir, emb_home):
    for fmt in ("glove", "word2vec-binary", "parquet"):
        proc = _emb(["export", "-m", "good", "/dev/full", "--format", fmt], emb_home)
        _one_error_line(proc, "/dev/full", "no space left on device")


@pytest.mark.parametrize("shell", ["neighbors w1 >/dev/full", "export -m good - --format glove >/dev/full",
                                   "models list >/dev/full"])
def test_stdout_on_a_full_device(model_dir, emb_home, shell):
    _one_error_line(_emb(None, emb_home, shell=shell), "stdout", "no space left on device")


@pytest.mark.parametrize("shell,fragment", [
    ("neighbors <&-", "stdin is closed"),
    ("import - --name s <&-", "stdin is closed"),
    ("neighbors w1 >&-", "stdout is closed"),
    ("export -m good - --format glove >&-", "stdout is closed"),
])
def test_closed_stdin_or_stdout(model_dir, emb_home, shell, fragment):
    _one_error_line(_emb(None, emb_home, shell=shell), fragment)
    assert not (emb_home / "models" / "s").exists()


def test_closed_stdout_never_lands_in_a_model_file(vec_file, emb_home):
    proc = _emb(None, emb_home, shell=f"import '{vec_file}' --name late >&-")
    assert proc.returncode == 0, proc.stderr
    assert invoke(["neighbors", "w1", "-m", "late"]).exit_code == 0


def test_a_full_disk_while_importing_names_the_model(vec_file, emb_home, monkeypatch):
    from embcli.wire import npy

    def full(self, block):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(npy.NpyAppender, "append", full)
    result = invoke(["import", vec_file, "--name", "big"])
    assert_clean_error(result, 1, str(emb_home / "models" / "big"), "no space left on device", "EMB_HOME")
    assert not (emb_home / "models" / "big").exists()
    assert [p.name for p in (emb_home / "models").iterdir()] == []


@contextlib.contextmanager
def _mounted(path: Path, *options: str):
    """A tmpfs (or a read-only bind) at ``path``; skips the test where mounting is not allowed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting needs root")
    path.mkdir(exist_ok=True)
    if subprocess.run(["mount", *options, str(path)], capture_output=True).returncode != 0:
        pytest.skip("mount is not allowed here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _fill(path: Path, leave: int) -> None:
    st = os.statvfs(path)
    with open(path / "filler", "wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def test_a_really_full_disk(vec_file, model_dir, emb_home, tmp_path, web_file):
    rng = np.random.default_rng(2)
    big = tmp_path / "big.txt"
    big.write_text("3000 50\n" + "".join(
        f"b{i} " + " ".join(f"{x:.4f}" for x in rng.standard_normal(50)) + "\n" for i in range(3000)))
    with _mounted(tmp_path / "full", "-t", "tmpfs", "-o", "size=2m", "tmpfs") as full:
        _fill(full, 40_000)
        home = full / "home"
        for args in (["import", big], ["neighbors", "b1", "-m", big],
                     ["train", web_file, "--dim", "50", "--epochs", "1", "--min-count", "2", "--threads", "1"]):
            _one_error_line(_emb(args, home), "no space left on device", str(home))
        for fmt, name in (("glove", "o.txt"), ("word2vec-binary", "o.bin"), ("parquet", "o.parquet"),
                          ("folder", "o"), ("glove", "o.txt.gz")):
            _one_error_line(_emb(["export", "-m", big, full / name, "--format", fmt], emb_home),
                            "no space left on device", str(full / name))
            assert not (full / name).exists()
        assert sorted(p.name for p in full.iterdir()) == ["filler", "home"]


def test_a_read_only_store(vec_file, emb_home, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "home").mkdir()
    with _mounted(ro, "--bind", str(ro)):
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True).returncode:
            pytest.skip("read-only remount is not allowed here")
        for args in (["import", vec_file], ["neighbors", "w1", "-m", vec_file]):
            _one_error_line(_emb(args, ro / "home"), "read-only file system", "EMB_HOME")
        _one_error_line(_emb(["export", "-m", vec_file, ro / "x.txt"], emb_home), "read-only file system", str(ro))
