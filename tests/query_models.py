"""Tiny real models shared by the query tests (trained once per test session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embcli.corpus import Corpus
from embcli.store import ModelStore
from embcli.folder import write_model
from embcli.tokenize import TokenizerSettings
from embcli.training.options import TrainOptions
from embcli.training.run import train_to_folder


def train_small(folder: Path, corpus: Path, algo: str) -> Path:
    """A model of the small corpus: 3 epochs, one thread, min count 2 (a few seconds)."""
    options = TrainOptions(algo=algo, dim=32, epochs=3, min_count=2, threads=1, buckets=20_000)
    train_to_folder(Corpus([str(corpus)]), TokenizerSettings(), options, folder)
    return folder


def gensim_keyed_vectors(folder: Path):
    """gensim KeyedVectors holding exactly the vectors of an emb model folder."""
    from gensim.models import KeyedVectors

    words = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    vectors = np.load(folder / "vectors.npy")
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    return kv


def write_toy_model(folder: Path, words: list[str], vectors, **meta) -> Path:
    """A model folder from given words and vectors (unicode tokenizer unless told otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"algorithm": "toy", "tokenizer": {"mode": "unicode"}, **meta}
    write_model(folder, words, np.asarray(vectors, dtype=np.float32), meta)
    return folder


def install(folder: Path, name: str, default: bool = True) -> Path:
    """Copy a model folder into the current store (``EMB_HOME``) under ``name``."""
    import shutil

    store = ModelStore()
    store.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, store.path(name))
    if default:
        store.set_default(name)
    return store.path(name)


# Session fixtures: import them by name into a test module to use them.
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def small_corpus_file(tmp_path_factory, web_lines) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "web-small.txt"
    path.write_text("\n".join(web_lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def w2v_dir(tmp_path_factory, small_corpus_file) -> Path:
    """A word2vec model folder trained on the small corpus (outside any store)."""
    return train_small(tmp_path_factory.mktemp("w2v") / "w2v", small_corpus_file, "word2vec")


@pytest.fixture(scope="session")
def ft_dir(tmp_path_factory, small_corpus_file) -> Path:
    """A FastText model folder trained on the small corpus (outside any store)."""
    return train_small(tmp_path_factory.mktemp("ft") / "ft", small_corpus_file, "fasttext")


@pytest.fixture(scope="session")
def lee_ft_dir(tmp_path_factory) -> Path:
    """gensim's own FastText test model (written by Facebook's fastText) as an emb model folder."""
    from gensim.models.fasttext import load_facebook_vectors
    from gensim.test.utils import datapath

    wv = load_facebook_vectors(datapath("lee_fasttext.bin"))
    folder = tmp_path_factory.mktemp("lee") / "lee-ft"
    folder.mkdir()
    meta = {
        "algorithm": "fasttext",
        "tokenizer": {"mode": "whitespace", "lowercase": False},
        "fasttext": {"minn": wv.min_n, "maxn": wv.max_n, "buckets": wv.bucket},
    }
    write_model(folder, list(wv.index_to_key), wv.vectors, meta, ngrams=wv.vectors_ngrams)
    return folder
