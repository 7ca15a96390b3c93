"""The store and model folders: atomic writes, names, reading back, damaged folders, subword hashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from embcli.errors import FormatError, ModelError, UsageError
from embcli.folder import ModelFolder, atomic_dir, read_meta, write_model
from embcli.open import open_model, resolve
from embcli.store import ModelStore, check_name
from embcli.subwords import char_ngrams, ft_hash, ngram_buckets

WORDS = ["the", "king", "queen", "한국어", "naïve"]


def _write(folder, words=WORDS, dim=4, **kw):
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.arange(len(words) * dim, dtype=np.float32).reshape(len(words), dim)
    meta = {"algorithm": "word2vec", "tokenizer": {"mode": "unicode", "lowercase": True, "min_token_length": 1}}
    write_model(folder, words, vectors, meta, counts=np.arange(len(words), 0, -1), **kw)
    return vectors


def test_write_and_read_back(tmp_path):
    vectors = _write(tmp_path / "m")
    model = ModelFolder(tmp_path / "m")
    assert model.words == WORDS and model.vocab_size == 5 and model.dim == 4
    np.testing.assert_array_equal(model.vectors, vectors)
    # Memory-mapped, not read into memory: the array does not own its data.
    assert not model.vectors.flags.owndata and not model.vectors.flags.writeable
    np.testing.assert_allclose(model.norms, np.linalg.norm(vectors, axis=1), rtol=1e-6)
    assert model.counts.tolist() == [5, 4, 3, 2, 1]
    meta = read_meta(tmp_path / "m")
    assert meta["vocab_size"] == 5 and meta["dim"] == 4 and meta["format_version"] == 1


def test_index_of_by_byte_search_and_by_dict(tmp_path):
    _write(tmp_path / "m")
    model = ModelFolder(tmp_path / "m")
    for i, word in enumerate(WORDS):
        assert model.index_of(word) == i
    assert model.index_of("kin") is None and model.index_of("") is None and model.index_of("a\nb") is None
    model.build_index()
    assert [model.index_of(w) for w in WORDS] == list(range(5)) and model.index_of("kin") is None
    assert model.word_at(3) == "한국어"


def test_query_words_are_normalized_like_the_vocabulary(tmp_path):
    _write(tmp_path / "m")
    model = ModelFolder(tmp_path / "m")
    assert model.index_of(model.normalize("KING")) == 1
    assert model.index_of(model.normalize("nai\u0308ve")) == 4


def test_words_with_line_breaks_refused(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(FormatError, match="line break"):
        write_model(tmp_path / "m", ["a\nb"], np.zeros((1, 2)), {})


def test_shape_mismatch_refused(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelError, match="2 words"):
        write_model(tmp_path / "m", ["a", "b"], np.zeros((3, 2)), {})


def test_damaged_folders_are_model_errors(tmp_path):
    _write(tmp_path / "m")
    (tmp_path / "m" / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="vectors.npy: unreadable"):
        ModelFolder(tmp_path / "m")
    _write(tmp_path / "n")
    (tmp_path / "n" / "vocab.txt").write_text("just\none\n")
    with pytest.raises(ModelError, match="2 words but vectors.npy has 5 rows"):
        ModelFolder(tmp_path / "n")
    _write(tmp_path / "o")
    (tmp_path / "o" / "meta.json").write_text("{not json")
    with pytest.raises(ModelError, match="meta.json: unreadable"):
        ModelFolder(tmp_path / "o")
    with pytest.raises(ModelError, match="meta.json: missing"):
        ModelFolder(tmp_path / "nothing")


def test_pickled_array_is_refused(tmp_path):
    _write(tmp_path / "m")
    np.save(tmp_path / "m" / "counts.npy", np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)
    with pytest.raises(ModelError, match="counts.npy: counts hold Python objects"):
        ModelFolder(tmp_path / "m").counts


@pytest.mark.parametrize("name", ["web-word2vec", "my_model.v2", "한국어", "a b"])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "a\\b", ".hidden", " x", "x\x00", "a" * 201,
                                  "a\tb", "a\nb", "a\x1bb", "영" * 67])
def test_bad_names(name):
    with pytest.raises(UsageError, match="invalid model name") as err:
        check_name(name)
    if len(name.encode("utf-8")) > 200:
        assert "at most 200 bytes" in str(err.value)


def test_atomic_dir_success_and_failure(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(f".tmp-out-{os.getpid()}-")
        (tmp / "f").write_text("new")
    assert (target / "f").read_text() == "new"
    (target / "f").rename(target / "meta.json")  # only a model folder is ever replaced
    (target / "meta.json").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]

    with pytest.raises(ModelError, match="exists"):
        with atomic_dir(target):
            pass
    for exc in (RuntimeError("x"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with atomic_dir(target, force=True) as tmp:
                (tmp / "f").write_text("half")
                raise exc
        assert (target / "meta.json").read_text() == "new"
        assert [p.name for p in tmp_path.iterdir()] == ["out"]

    with atomic_dir(target, force=True) as tmp:
        (tmp / "g").write_text("replaced")
    assert sorted(p.name for p in target.iterdir()) == ["g"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_store_names_default_remove_and_resolve(tmp_path):
    store = ModelStore(tmp_path / "home")
    assert store.names() == [] and store.default_name() is None
    with pytest.raises(ModelError, match="no model yet"):
        resolve(None, store)
    for name in ("b", "a"):
        with store.writer(name) as tmp:
            _write(tmp)
    assert store.names() == ["a", "b"]
    store.set_default("b")
    assert resolve(None, store) == store.path("b")
    assert resolve("a", store) == store.path("a")
    assert resolve(str(store.path("a")), store) == store.path("a")
    assert open_model(store=store).path == store.path("b")
    with pytest.raises(ModelError, match="not a model folder"):
        resolve(str(tmp_path), store)
    # A path or a file name that is not there says so, and names the models there are.
    with pytest.raises(ModelError, match=r"nosuch\.vec: no such file or folder: pass a model name"):
        resolve(str(tmp_path / "nosuch.vec"), store)
    with pytest.raises(ModelError, match=r"^nosuch\.txt: no such file, and no model of that name \(models: a, b\)"):
        resolve("nosuch.txt", store)
    with pytest.raises(ModelError, match=r"^no model named 'nosuch' \(models: a, b\): see `emb models list`"):
        resolve("nosuch", store)
    with pytest.raises(ModelError, match="no model named 'c'"):
        store.set_default("c")
    with pytest.raises(ModelError, match="exists"):
        with store.writer("a"):
            pass
    assert store.remove("b") is True and store.default_name() is None
    assert store.remove("a") is False and store.names() == []


def test_store_info(tmp_path):
    store = ModelStore(tmp_path)
    with store.writer("m") as tmp:
        _write(tmp, ngrams=np.zeros((7, 4), dtype=np.float32))
    info = store.info("m")
    assert (info.name, info.algorithm, info.dim, info.vocab_size, info.default) == ("m", "word2vec", 4, 5, False)
    assert info.size_bytes == sum(p.stat().st_size for p in store.path("m").iterdir())
    assert ModelFolder(store.path("m")).ngrams.shape == (7, 4)
    assert json.loads((store.path("m") / "meta.json").read_text())["created"] == info.created


# ------------------------------------------------------------------ fastText subwords


def test_char_ngrams_like_fasttext():
    assert char_ngrams("ab", 1, 3) == [b"<a", b"<ab", b"a", b"ab", b"ab>", b"b", b"b>"]
    assert char_ngrams("한", 1, 2) == ["<한".encode(), "한".encode(), "한>".encode()]


def test_hash_and_buckets_match_gensim():
    from gensim.models.fasttext_inner import ft_hash_bytes
    from gensim.models.fasttext import ft_ngram_hashes

    for data in [b"", b"<the>", "<über>".encode(), "한국어".encode(), bytes(range(256))]:
        assert ft_hash(data) == ft_hash_bytes(data)
    for word in ["king", "naïve", "한국어", "x", "supercalifragilistic"]:
        assert ngram_buckets(word, 3, 6, 2_000_000) == list(ft_ngram_hashes(word, 3, 6, 2_000_000))
        assert ngram_buckets(word, 1, 2, 1000) == list(ft_ngram_hashes(word, 1, 2, 1000))


def test_compiled_ngram_hashes_equal_gensims():
    """The block hasher used when importing fastText .bin files gives gensim's n-gram buckets."""
    from gensim.models.fasttext import ft_ngram_hashes

    from embcli.subword_kernels import ngram_buckets_block

    words = ["king", "안녕하세요", "naïve", "a", "東京タワー", "x" * 30, "Ünïcödé-wörd", "é", "😀ab", "don't"]
    for minn, maxn, buckets in ((3, 6, 2_000_000), (1, 3, 1000), (2, 2, 7)):
        ids, lengths = ngram_buckets_block(words, minn, maxn, buckets)
        expected = [ft_ngram_hashes(w, minn, maxn, buckets) for w in words]
        assert lengths.tolist() == [len(e) for e in expected]
        assert ids.tolist() == [h for e in expected for h in e]


@pytest.mark.parametrize("where", ["root", "models"])
def test_a_store_folder_that_is_a_file_is_one_line(tmp_path, monkeypatch, where, small_corpus):
    from conftest import assert_clean_error, invoke

    home = tmp_path / "home"
    if where == "root":
        home.write_text("not a folder\n")
    else:
        home.mkdir()
        (home / "models").write_text("not a folder\n")
    monkeypatch.setenv("EMB_HOME", str(home))
    for args in (["train", str(small_corpus), "--epochs", "1", "--dim", "8"], ["models", "list"]):
        assert_clean_error(invoke(args), 1, "is a file, where the model store keeps its folders", "EMB_HOME")
    assert (home if where == "root" else home / "models").read_text() == "not a folder\n"


def test_a_bare_name_is_the_store_model_before_a_folder_here(tmp_path, monkeypatch):
    """As for a file of the same name: `-m w` is the store's w; ./w is the folder here."""
    store = ModelStore(tmp_path / "home")
    with store.writer("w") as tmp:
        _write(tmp)
    here = tmp_path / "here"
    (here / "w").mkdir(parents=True)
    _write(here / "w")
    monkeypatch.chdir(here)
    assert resolve("w", store) == store.path("w")
    assert resolve(f".{os.sep}w", store) == Path(f".{os.sep}w")
    store.remove("w")
    assert resolve("w", store) == Path("w")  # no store model of that name: the folder here


def test_a_model_folder_without_meta_is_named_damaged_not_unknown(tmp_path):
    store = ModelStore(tmp_path / "home")
    with store.writer("x") as tmp:
        _write(tmp)
    (store.path("x") / "meta.json").unlink()
    with pytest.raises(ModelError, match=r"model 'x' is damaged \(its meta.json is missing\): remove it with"):
        resolve("x", store)
    with pytest.raises(ModelError, match="no model named 'y'"):
        resolve("y", store)
