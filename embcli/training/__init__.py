"""Trainers: the ``TRAINERS`` registry, one module or package per algorithm, one shape.

Every trainer is a function ``train(prepared, options, workdir, on_progress) -> Trained``: it gets
the tokenized corpus (``prepare.Prepared``), the resolved ``TrainOptions``, a temporary folder for
its own files (removed with the model's temporary folder) and the progress callback, and returns
``common.Trained``. ``find_trainer`` picks the first registered trainer that takes the options'
algorithm and loss on the options' engine. The whole job (tokenize, train, write the folder
atomically) is ``run.train_to_store`` / ``run.train_to_folder``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable

from embcli.errors import UsageError
from embcli.names import ENGINES
from embcli.training.options import ALGORITHMS, ARCHS, LOSSES, TrainOptions


@dataclass(frozen=True)
class Trainer:
    """One way to train: the algorithms and losses it takes, and its function (``module:function``)."""

    name: str
    summary: str
    algos: tuple[str, ...]
    losses: tuple[str, ...]
    entry: str
    engine: str = "local"

    def fn(self) -> Callable:
        module, fn = self.entry.split(":")
        return getattr(import_module(module), fn)

    def takes(self, options: TrainOptions, engine: str = "local") -> bool:
        return options.algo in self.algos and options.loss in self.losses and engine == self.engine


TRAINERS: dict[str, Trainer] = {
    t.name: t
    for t in (
        Trainer("fasttext", "emb's own FastText kernels (fastText's algorithm, negative sampling)",
                ("fasttext",), ("ns",), "embcli.training.fasttext:train_fasttext"),
        Trainer("word2vec", "emb's own Word2Vec kernels (word2vec.c's and gensim's algorithm, negative sampling)",
                ("word2vec",), ("ns",), "embcli.training.word2vec:train_word2vec"),
        Trainer("glove", "emb's own GloVe: co-occurrence counting and AdaGrad",
                ("glove",), LOSSES, "embcli.training.glove:train_glove"),
        Trainer("gensim", "gensim's Word2Vec and FastText with hierarchical softmax",
                ("word2vec", "fasttext"), LOSSES, "embcli.training.gensim_trainer:train_gensim"),
        Trainer("spark-word2vec", "Spark MLlib's Word2Vec (skip-gram, hierarchical softmax) on the Spark engine",
                ("word2vec",), LOSSES, "embcli.spark.word2vec:train_mllib_word2vec", engine="spark"),
        Trainer("spark-glove", "GloVe: co-occurrences counted in Spark, fitted by emb's AdaGrad on the driver",
                ("glove",), LOSSES, "embcli.spark.glove:train_spark_glove", engine="spark"),
    )
}


def find_trainer(options: TrainOptions, engine: str = "local") -> Trainer:
    """The first trainer in ``TRAINERS`` that takes ``options`` on ``engine``."""
    for trainer in TRAINERS.values():
        if trainer.takes(options, engine):
            return trainer
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    raise UsageError(f"no trainer for --algo {options.algo} --loss {options.loss} on the {engine} engine"
                     + (": the Spark engine trains word2vec and glove" if engine == "spark" else ""))


__all__ = ["ALGORITHMS", "ARCHS", "LOSSES", "TRAINERS", "Trainer", "TrainOptions", "find_trainer"]
