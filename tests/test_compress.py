"""``emb compress`` and compressed model folders: storage round trips, every reader, the cost, bad input."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, invoke
from query_models import install, small_corpus_file, w2v_dir, write_toy_model  # noqa: F401

from embcli import query
from embcli.compress import Setting, compress, dry_run, dry_run_settings
from embcli.errors import MissingExtraError, ModelError, UsageError
from embcli.folder import ModelFolder, write_model
from embcli.folder.layout import MODEL_FILES
from embcli.folder.storage import StoredRows, encode_int8

HAS_FAISS = importlib.util.find_spec("faiss") is not None
needs_faiss = pytest.mark.skipif(not HAS_FAISS, reason="faiss-cpu (the compress extra) is not installed")


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Rows around 40 centres: neighbours are well defined, as in a real model."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    return (centres[rng.integers(0, 40, n)] + 0.3 * rng.standard_normal((n, dim))).astype(np.float32)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """A 2,000 x 32 model of made-up words with clustered vectors."""
    vectors = _clustered(2000, 32)
    words = [f"w{i}" for i in range(len(vectors))]
    return write_toy_model(tmp_path_factory.mktemp("toy") / "toy", words, vectors, tokenizer={"mode": "whitespace"})


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_int8_rows_are_within_half_a_step():
    rows = _clustered(300, 17)
    rows[5] = 0  # a zero row stays zero
    codes, scales = encode_int8(rows)
    assert codes.dtype == np.int8 and scales.shape == (300,)
    decoded = codes.astype(np.float32) * scales[:, None]
    assert np.all(np.abs(decoded - rows) <= scales[:, None] / 2 + 1e-6)
    assert np.all(decoded[5] == 0)
    assert np.allclose(np.abs(codes).max(axis=1)[np.arange(300) != 5], 127)


def test_int8_folder_decodes_within_the_bound_and_leaves_the_original(toy, tmp_path):
    before = _digest(toy)
    out = tmp_path / "toy-int8"
    cost = compress(ModelFolder(toy), out, Setting("int8"), benchmarks=False)
    assert _digest(toy) == before
    assert sorted(p.name for p in out.iterdir()) == [
        "meta.json", "norms.npy", "scales.npy", "vectors.int8.npy", "vocab.txt"]
    original, small = ModelFolder(toy), ModelFolder(out)
    assert small.storage == "int8" and small.meta["storage"]["kind"] == "int8"
    assert (small.vocab_size, small.dim) == (original.vocab_size, original.dim)
    scales = np.load(out / "scales.npy")
    full = np.asarray(small.vectors)
    assert full.dtype == np.float32
    assert np.all(np.abs(full - original.vectors) <= scales[:, None] / 2 + 1e-6)
    assert np.allclose(small.norms, np.linalg.norm(full, axis=1), rtol=1e-5)
    assert cost.recall_at_10 >= 0.95 and cost.sampled == 1000
    assert small.meta["compression"]["recall_at_10"] == round(cost.recall_at_10, 4)
    assert small.meta["compression"]["bytes_before"] > 3 * small.meta["compression"]["bytes_after"] / 1.2


def test_float16_folder_holds_the_rounded_values(toy, tmp_path):
    out = tmp_path / "toy-f16"
    cost = compress(ModelFolder(toy), out, Setting("float16"), benchmarks=False)
    small = ModelFolder(out)
    expected = ModelFolder(toy).vectors.astype(np.float16).astype(np.float32)
    assert np.array_equal(np.asarray(small.vectors), expected)
    assert cost.recall_at_10 >= 0.99


def test_stored_rows_index_like_an_array(toy, tmp_path):
    out = tmp_path / "toy-int8"
    compress(ModelFolder(toy), out, Setting("int8"), benchmarks=False, sample=50)
    rows = ModelFolder(out).vectors
    assert isinstance(rows, StoredRows) and len(rows) == 2000 and rows.shape == (2000, 32)
    full = np.asarray(rows)
    assert np.array_equal(rows[7], full[7]) and rows[7].shape == (32,)
    assert np.array_equal(rows[10:20], full[10:20])
    assert np.array_equal(rows[1:50:7], full[1:50:7])
    assert np.array_equal(rows[np.array([3, 3, 1999])], full[[3, 3, 1999]])
    assert np.array_equal(rows[[4, 5], 2:4], full[[4, 5], 2:4])
    queries = np.random.default_rng(1).standard_normal((3, 32)).astype(np.float32)
    out_block = np.empty((3, 1500), dtype=np.float32)
    assert np.allclose(rows.products(queries, 100, 1600, out_block), queries @ full[100:1600].T, atol=1e-4)


def test_queries_and_evaluate_run_on_a_compressed_trained_model(w2v_dir, tmp_path):
    out = tmp_path / "w2v-int8"
    cost = compress(ModelFolder(w2v_dir), out, Setting("int8"), sample=300)
    original, small = ModelFolder(w2v_dir), ModelFolder(out)
    a = query.neighbors(original, ["king", "god", "water"], k=10)
    b = query.neighbors(small, ["king", "god", "water"], k=10)
    for x, y in zip(a, b):
        assert x.error is None and y.error is None
        assert len({h.word for h in x.hits} & {h.word for h in y.hits}) >= 8
        assert abs(x.hits[0].score - y.hits[0].score) < 0.01
    [r] = query.analogy(small, [["king", "man", "woman"]], k=3)
    assert r.error is None and len(r.hits) == 3
    # The benchmark scores were measured on both (the small corpus knows a few of their words).
    assert set(cost.scores) == {"analogy:questions-words.txt", "spearman:wordsim353.tsv", "spearman:simlex999.txt"}
    rho = cost.scores["spearman:wordsim353.tsv"]
    assert rho["before"] is not None and abs(rho["before"] - rho["after"]) < 0.05


def test_cli_compress_then_every_command(w2v_dir, tmp_path, emb_home):
    install(w2v_dir, "web")
    result = invoke(["compress", "web", "--to", "int8", "--sample", "200", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["setting"] == "int8" and row["recall@10"] >= 0.9 and row["ratio"] > 2.5
    assert abs(row["vectors ratio"] - 4 * 32 / (32 + 4)) < 0.05  # a float32 scale a row of 32 int8 codes
    assert "wrote" in result.stderr
    for args in (["neighbors", "-m", "web-int8", "king"], ["analogy", "-m", "web-int8", "king", "man", "woman"],
                 ["similarity", "-m", "web-int8", "king", "god"], ["vector", "-m", "web-int8", "king"],
                 ["evaluate", "-m", "web-int8"]):
        done = invoke(args)
        assert done.exit_code == 0, (args, done.stderr)
        assert done.stdout.strip()
    embedded = invoke(["embed", "-m", "web-int8", "-f", "jsonl"], input="the king said\n")
    plain = invoke(["embed", "-m", "web", "-f", "jsonl"], input="the king said\n")
    assert embedded.exit_code == 0 and plain.exit_code == 0, embedded.stderr
    got, want = (np.array(json.loads(r.stdout.splitlines()[0])["vector"]) for r in (embedded, plain))
    assert got.shape == want.shape and np.dot(got, want) / np.linalg.norm(got) / np.linalg.norm(want) > 0.999
    listed = invoke(["models", "list", "-f", "json"])
    storage = {m["name"]: m["storage"] for m in json.loads(listed.stdout)}
    assert storage == {"web": "float32", "web-int8": "int8"}
    info = json.loads(invoke(["models", "info", "web-int8"]).stdout)
    assert info["storage_kind"] == "int8" and info["size_bytes"] > 0 and info["compression"]["setting"] == "int8"
    # What was printed, what meta.json keeps and what the listing says are the folder's own bytes.
    folder = emb_home / "models" / "web-int8"
    on_disk = sum((folder / f).stat().st_size for f in MODEL_FILES if (folder / f).is_file())
    assert row["size"] == info["compression"]["bytes_after"] == info["size_bytes"] == on_disk
    tsv = invoke(["compress", "web", "--to", "float16", "--sample", "100", "-f", "tsv", "-o", tmp_path / "f16"])
    header, line = tsv.stdout.splitlines()
    fields = dict(zip(header.split("\t"), line.split("\t")))
    before, after = (float(x) for x in fields["ws353"].split(" -> "))  # plain numbers, not a Python dict
    assert abs(before - after) < 0.01
    # Export decompresses: word2vec text and an emb folder with float32 vectors.npy.
    text = tmp_path / "web.txt"
    assert invoke(["export", "-m", "web-int8", text, "--format", "word2vec"]).exit_code == 0
    lines = text.read_text(encoding="utf-8").splitlines()
    original = ModelFolder(w2v_dir)
    values = np.array(lines[1].split()[1:], dtype=np.float32)
    row = original.index_of(lines[1].split()[0])
    scale = np.abs(original.vectors[row]).max() / 127
    assert np.all(np.abs(values - original.vectors[row]) <= scale / 2 + 1e-5)
    folder = tmp_path / "exported"
    done = invoke(["export", "-m", "web-int8", folder, "--format", "folder"])
    assert done.exit_code == 0, done.stderr
    plain = ModelFolder(folder)
    assert plain.storage == "float32" and "storage" not in plain.meta
    assert np.all(np.abs(plain.vectors - original.vectors) <= np.abs(original.vectors).max(1, keepdims=True) / 254 + 1e-5)


def test_dry_run_prints_several_settings_and_writes_nothing(toy, emb_home):
    install(toy, "toy")
    before = sorted(p.name for p in (emb_home / "models").iterdir())
    result = invoke(["compress", "toy", "--dry-run", "--no-benchmarks", "--sample", "100", "-f", "tsv"])
    assert result.exit_code == 0, result.stderr
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header[:5] == ["setting", "size", "ratio", "vectors ratio", "recall@10"]
    settings = [r[0] for r in rows]
    assert settings[:2] == ["float16", "int8"]
    if HAS_FAISS:
        assert any(s.startswith("pq M=") for s in settings)
    assert sorted(p.name for p in (emb_home / "models").iterdir()) == before
    if HAS_FAISS:
        # The setting asked for is measured too (it was ignored, and -M 0 accepted).
        asked = invoke(["compress", "toy", "--dry-run", "--to", "pq", "-M", "16", "--bits", "4", "--opq",
                        "--no-benchmarks", "--sample", "100", "-f", "tsv"])
        assert asked.exit_code == 0, asked.stderr
        assert "opq M=16 bits=4" in [line.split("\t")[0] for line in asked.stdout.splitlines()]
        assert_clean_error(invoke(["compress", "toy", "--dry-run", "--to", "pq", "-M", "0", "--no-benchmarks"]), 2,
                           "does not divide the dimension")


def test_compressing_a_compressed_model_says_so(toy, tmp_path):
    install(toy, "toy")
    assert invoke(["compress", "toy", "--to", "int8", "--no-benchmarks", "--sample", "50"]).exit_code == 0
    again = invoke(["compress", "toy-int8", "--to", "float16", "--no-benchmarks", "--sample", "50", "-n", "again"])
    assert again.exit_code == 0, again.stderr
    assert "compressing again from its stored values" in again.stderr
    meta = ModelFolder(Path(json.loads(invoke(["models", "info", "again"]).stdout)["path"])).meta
    assert meta["storage"]["kind"] == "float16" and meta["compression"]["from_storage"] == "int8"


def test_bad_input_is_one_line(toy, tmp_path):
    install(toy, "toy")
    assert_clean_error(invoke(["compress", "toy", "--to", "pq", "-M", "5"]), 2, "does not divide the dimension 32",
                       "1, 2, 4, 8, 16, 32")
    assert_clean_error(invoke(["compress", "toy", "--to", "int8", "-M", "4"]), 2, "--subquantizers, --bits and --opq")
    # --bits without --to pq was ignored without a word; --max-vocab below what PQ needs was a faiss traceback.
    assert_clean_error(invoke(["compress", "toy", "--bits", "4"]), 2, "are for --to pq")
    assert_clean_error(invoke(["compress", "toy", "--to", "pq", "-M", "8", "--max-vocab", "100", "--no-benchmarks"]),
                       2, "100 words are too few to train 256 centroids", "raise --max-vocab")
    assert_clean_error(invoke(["compress", "toy", "--to", "pq", "-M", "8", "--bits", "9"]), 2, "use 1 to 8")
    assert_clean_error(invoke(["compress", "toy", "-n", "x", "-o", tmp_path / "x"]), 2, "--name or --output")
    assert_clean_error(invoke(["compress", "toy", "-n", "toy"]), 2, "exists")
    tiny = write_toy_model(tmp_path / "tiny", [f"t{i}" for i in range(100)], _clustered(100, 8))
    assert_clean_error(invoke(["compress", tiny, "--to", "pq", "-M", "4"]), 2, "needs at least 1024 words")
    assert not (tmp_path / "x").exists()
    # "-" was written as a folder named - (emb train refused it already); a file is refused before the work.
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert_clean_error(invoke(["compress", "toy", "--to", "int8", "-o", "-"]), 2, "a model is a folder, not a stream")
        (tmp_path / "notes.txt").write_text("mine")
        assert_clean_error(invoke(["compress", "toy", "--to", "int8", "-o", "notes.txt", "--force"]), 1,
                           "is a file, not a model folder")
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "-").exists() and (tmp_path / "notes.txt").read_text() == "mine"


def test_a_damaged_folder_is_reported(toy, tmp_path):
    out = tmp_path / "toy-int8"
    compress(ModelFolder(toy), out, Setting("int8"), benchmarks=False, sample=20)
    scales = out / "scales.npy"
    scales.write_bytes(scales.read_bytes()[:-100])
    with pytest.raises(ModelError, match="scales.npy: truncated row scales"):
        ModelFolder(out)
    meta = json.loads((out / "meta.json").read_text())
    meta["storage"] = {"kind": "zip"}
    (out / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="unknown vector storage"):
        ModelFolder(out)


def test_a_storage_claim_from_elsewhere_is_not_kept(tmp_path):
    # An imported file's metadata saying "int8" must not describe the float32 vectors.npy written.
    folder = tmp_path / "m"
    folder.mkdir()
    write_model(folder, ["a", "b"], np.eye(2, dtype=np.float32), {"storage": {"kind": "int8"}})
    assert ModelFolder(folder).storage == "float32"


@needs_faiss
def test_pq_codes_decode_to_their_centroids_and_keep_neighbours(toy, tmp_path):
    out = tmp_path / "toy-pq"
    cost = compress(ModelFolder(toy), out, Setting("pq", 16, 8), benchmarks=False, sample=300)
    small = ModelFolder(out)
    assert small.storage == "pq" and small.meta["storage"] == {"kind": "pq", "subquantizers": 16, "bits": 8,
                                                               "opq": False, "unit": True}
    codes, books = np.load(out / "pq.codes.npy"), np.load(out / "pq.codebooks.npy")
    assert codes.shape == (2000, 16) and books.shape == (16, 256, 2)
    assert codes.flags.f_contiguous  # column-major on disk: a scan reads each subquantizer's codes in one run
    # The codes are of the unit rows: a row is its centroids' direction at the original's norm.
    directions = np.concatenate([books[j][codes[:, j]] for j in range(16)], axis=1)
    assert np.allclose(np.linalg.norm(directions, axis=1), 1, atol=0.3)
    original = ModelFolder(toy)
    assert np.array_equal(np.load(out / "norms.npy"), original.norms)
    expected = directions / np.linalg.norm(directions, axis=1)[:, None] * original.norms[:, None]
    assert np.allclose(np.asarray(small.vectors), expected, atol=1e-5)
    assert np.allclose(small.vectors[[5, 3]], expected[[5, 3]], atol=1e-5)
    assert np.allclose(small.vectors[7], expected[7], atol=1e-5)
    error = np.linalg.norm(expected - original.vectors, axis=1) / original.norms
    assert np.median(error) < 0.35
    assert cost.recall_at_10 >= 0.5 and cost.ratio > 2.5
    # Few queries take the lookup-table path, many the decoding path: the same products.
    q = np.random.default_rng(2).standard_normal((12, 32)).astype(np.float32)
    few = small.vectors.products(q[:3], 0, 2000, np.empty((3, 2000), np.float32))
    many = small.vectors.products(q, 0, 2000, np.empty((12, 2000), np.float32))
    assert np.allclose(few, q[:3] @ expected.T, atol=1e-3) and np.allclose(many, q @ expected.T, atol=1e-3)
    part = small.vectors.products(q[:1], 100, 1500, np.empty((1, 1400), np.float32))
    assert np.allclose(part, q[:1] @ expected[100:1500].T, atol=1e-3)
    # A row-major codes file (as numpy writes by default) reads the same.
    np.save(out / "pq.codes.npy", np.ascontiguousarray(codes))
    again = ModelFolder(out).vectors.products(q[:3], 0, 2000, np.empty((3, 2000), np.float32))
    assert np.allclose(again, few, atol=1e-5)


@needs_faiss
def test_opq_stores_an_orthonormal_rotation_and_is_read_without_faiss(toy, tmp_path, monkeypatch):
    out = tmp_path / "toy-opq"
    compress(ModelFolder(toy), out, Setting("pq", 8, 6, opq=True), benchmarks=False, sample=100)
    rotation = np.load(out / "pq.rotation.npy")
    assert np.allclose(rotation @ rotation.T, np.eye(32), atol=1e-4)
    monkeypatch.setitem(sys.modules, "faiss", None)
    small = ModelFolder(out)
    [res] = query.neighbors(small, ["w1"], k=5)
    assert res.error is None and len(res.hits) == 5
    rows = np.asarray(small.vectors)
    codes, books = np.load(out / "pq.codes.npy"), np.load(out / "pq.codebooks.npy")
    directions = np.concatenate([books[j][codes[:, j]] for j in range(8)], axis=1) @ rotation
    norms = np.load(out / "norms.npy")
    assert np.allclose(rows, directions / np.linalg.norm(directions, axis=1)[:, None] * norms[:, None], atol=1e-5)
    # A few queries (lookup tables) and many (decoded rows) give the same products.
    q = np.random.default_rng(3).standard_normal((12, 32)).astype(np.float32)
    few = small.vectors.products(q[:2], 0, 2000, np.empty((2, 2000), np.float32))
    many = small.vectors.products(q, 0, 2000, np.empty((12, 2000), np.float32))
    assert np.allclose(few, q[:2] @ rows.T, atol=1e-3) and np.allclose(many, q @ rows.T, atol=1e-3)


@needs_faiss
def test_pq_folders_of_raw_rows_still_decode_to_their_centroids(toy, tmp_path):
    """A folder written before the codes were of unit rows (no "unit" in its storage) reads as it did."""
    out = tmp_path / "toy-pq-raw"
    compress(ModelFolder(toy), out, Setting("pq", 8, 8), benchmarks=False, sample=20)
    codes, books = np.load(out / "pq.codes.npy"), np.load(out / "pq.codebooks.npy")
    raw = np.concatenate([books[j][codes[:, j]] for j in range(8)], axis=1)
    meta = json.loads((out / "meta.json").read_text())
    del meta["storage"]["unit"]
    (out / "meta.json").write_text(json.dumps(meta))
    np.save(out / "norms.npy", np.linalg.norm(raw, axis=1).astype(np.float32))
    small = ModelFolder(out)
    assert np.allclose(np.asarray(small.vectors), raw) and np.allclose(small.norms, np.linalg.norm(raw, axis=1))
    [res] = query.neighbors(small, ["w1"], k=3)
    assert res.error is None and len(res.hits) == 3


@needs_faiss
def test_pq_of_unit_rows_without_norms_is_reported(toy, tmp_path):
    out = tmp_path / "toy-pq"
    compress(ModelFolder(toy), out, Setting("pq", 8, 8), benchmarks=False, sample=20)
    np.save(out / "norms.npy", np.ones(5, dtype=np.float32))
    with pytest.raises(ModelError, match="expected 2000 float32 norms"):
        ModelFolder(out)
    (out / "norms.npy").unlink()
    with pytest.raises(ModelError, match="missing norms"):
        ModelFolder(out)


@needs_faiss
def test_damaged_pq_codes_are_reported(toy, tmp_path):
    out = tmp_path / "toy-pq"
    compress(ModelFolder(toy), out, Setting("pq", 8, 4), benchmarks=False, sample=20)
    codes = np.load(out / "pq.codes.npy")
    codes[0, 0] = 200
    np.save(out / "pq.codes.npy", codes)
    with pytest.raises(ModelError, match="a code is 200 but the codebooks have 16 centroids"):
        ModelFolder(out)


def test_pq_without_faiss_is_one_line_naming_the_extra(toy, monkeypatch):
    install(toy, "toy")
    monkeypatch.setitem(sys.modules, "faiss", None)
    assert_clean_error(invoke(["compress", "toy", "--to", "pq", "-M", "8"]), 1, "pip install 'embcli[compress]'")
    with pytest.raises(MissingExtraError):
        compress(ModelFolder(toy), Path("/nonexistent/x"), Setting("pq", 8), benchmarks=False)


def test_dry_run_library_measures_each_setting_once(toy):
    model = ModelFolder(toy)
    costs = dry_run(model, [Setting("float16"), Setting("int8")], sample=100, benchmarks=False)
    assert [c.setting for c in costs] == ["float16", "int8"]
    assert costs[0].bytes_after > costs[1].bytes_after and costs[1].recall_at_10 >= 0.9
    assert all(s.to in ("float16", "int8", "pq") for s in dry_run_settings(model))
    with pytest.raises(UsageError):
        dry_run(model, [Setting("zip")])


def test_api_model_compress(toy, tmp_path):
    import embcli

    model = embcli.load(str(toy))
    small = model.compress("int8", output=tmp_path / "small", sample=100, benchmarks=False)
    assert small.meta["storage"]["kind"] == "int8" and small.compression.recall_at_10 >= 0.9
    assert small.vectors.dtype == np.float32 and small.vectors.shape == model.vectors.shape
    assert [n.word for n in small.neighbors("w1", k=3)][:1] == [n.word for n in model.neighbors("w1", k=3)][:1]
    with pytest.raises(UsageError, match="exists"):
        model.compress("int8", output=tmp_path / "small")
    assert (model.storage, small.storage) == ("float32", "int8")
    stages = []
    model.compress("float16", output=tmp_path / "half", sample=100, benchmarks=False, on_stage=stages.append)
    assert stages and all(isinstance(s, str) and s for s in stages)


def test_api_compare_compressions_writes_nothing(toy, tmp_path):
    import embcli

    model = embcli.load(str(toy))
    before = sorted(p.name for p in toy.parent.iterdir())
    heard = []
    costs = model.compare_compressions(sample=100, benchmarks=False, on_result=heard.append)
    assert [c.setting for c in costs][:2] == ["float16", "int8"] and heard == costs
    assert costs[1].bytes_after < costs[0].bytes_after < costs[0].bytes_before
    assert all(0.0 <= c.recall_at_10 <= 1.0 for c in costs)
    assert sorted(p.name for p in toy.parent.iterdir()) == before


@needs_faiss
def test_pq_threads_are_reproducible_and_checked(toy, tmp_path):
    runs = []
    for n, threads in enumerate((2, 2)):
        out = tmp_path / f"toy-pq-{n}"
        compress(ModelFolder(toy), out, Setting("pq", 8, 8, opq=True), benchmarks=False, sample=200, threads=threads)
        runs.append((np.load(out / "pq.codes.npy"), np.load(out / "pq.codebooks.npy")))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    with pytest.raises(UsageError, match="--threads 0"):
        compress(ModelFolder(toy), tmp_path / "none", Setting("pq", 8, 8), benchmarks=False, threads=0)
    assert not (tmp_path / "none").exists()
    res = invoke(["compress", str(toy), "--to", "pq", "-M", "8", "--threads", "2", "--no-benchmarks",
                  "--sample", "100", "-o", str(tmp_path / "cli"), "-f", "tsv"])
    assert res.exit_code == 0, res.stderr
    assert ModelFolder(tmp_path / "cli").meta["storage"]["subquantizers"] == 8
    res = invoke(["compress", str(toy), "--to", "pq", "--threads", "0", "-o", str(tmp_path / "cli0")])
    assert_clean_error(res, 2, "--threads")
    assert not (tmp_path / "cli0").exists()


def test_dry_run_sizes_are_the_written_sizes(tmp_path, emb_home):
    """The estimate counted the counts at 8 bytes each; the written copy stores them in 4."""
    from embcli.folder import write_model

    vectors = _clustered(2000, 32)
    folder = tmp_path / "counted"
    folder.mkdir()
    write_model(folder, [f"w{i}" for i in range(2000)], vectors, {"algorithm": "toy", "tokenizer": {"mode": "whitespace"}},
                counts=np.arange(4000, 2000, -1))
    install(folder, "toy")
    dry = invoke(["compress", "toy", "--dry-run", "--no-benchmarks", "--sample", "50", "-f", "tsv"])
    sizes = {line.split("\t")[0]: int(line.split("\t")[1]) for line in dry.stdout.splitlines()[1:]}
    for to in ("float16", "int8"):
        done = invoke(["compress", "toy", "--to", to, "--no-benchmarks", "--sample", "50", "-f", "tsv", "--force"])
        written = int(done.stdout.splitlines()[1].split("\t")[1])
        assert abs(sizes[to] - written) <= 1024, (to, sizes[to], written)  # meta.json's own record differs


def test_a_vector_file_compressed_is_named_after_the_file(tmp_path, emb_home):
    """The default name held the file's cache key (in.txt-4106caf1...-int8); a conversion to the
    projector named its tensor after a temporary folder."""
    path = tmp_path / "in.txt"
    rng = np.random.default_rng(0)
    path.write_text("300 8\n" + "".join(f"w{i} " + " ".join(f"{x:.4f}" for x in rng.standard_normal(8)) + "\n"
                                         for i in range(300)))
    assert invoke(["compress", path, "--no-benchmarks", "--sample", "20", "-q"]).exit_code == 0
    assert (emb_home / "models" / "in.txt-int8" / "meta.json").is_file()
    assert invoke(["convert", path, tmp_path / "proj", "--to", "projector", "-q"]).exit_code == 0
    assert 'tensor_name: "in.txt"' in (tmp_path / "proj" / "projector_config.pbtxt").read_text()
