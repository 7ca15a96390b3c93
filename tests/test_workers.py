"""Tokenizing worker processes that fail or die: the training stops with a clear error, never hangs."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from embcli.corpus import Corpus
from embcli.errors import TrainingError
from embcli.tokenize import TokenizerSettings
from embcli.training import prepare
from embcli.training.prepare import prepare_corpus


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "c.txt"
    path.write_text("".join(f"line {i} of some words here\n" for i in range(60_000)), encoding="utf-8")
    return path


def test_a_killed_worker_stops_the_pass_with_an_error(corpus_file, tmp_path, monkeypatch):
    started = threading.Event()
    real = prepare._Workers.__init__

    def spy(self, n, settings, *job):
        real(self, n, settings, *job)
        started.set()
        victim = self.procs[1].pid

        def kill():
            os.kill(victim, signal.SIGKILL)

        threading.Timer(0.05, kill).start()

    monkeypatch.setattr(prepare._Workers, "__init__", spy)
    with pytest.raises(TrainingError, match=r"worker process \(pid \d+\) was killed by signal 9.*--threads 1"):
        prepare_corpus(Corpus([str(corpus_file)]), TokenizerSettings(), tmp_path / "out.txt", workers=2)
    assert started.is_set()


def test_an_error_inside_a_worker_is_the_training_error(corpus_file, tmp_path, monkeypatch):
    def broken(settings):
        def tokenize(line):
            if "line 30000 " in line:
                raise ValueError("the analyzer choked on line 30000")
            return line.split()

        return tokenize

    monkeypatch.setattr(prepare, "make_tokenizer", broken)
    with pytest.raises(TrainingError, match="failed in a worker process: ValueError: the analyzer choked on line 30000"):
        prepare_corpus(Corpus([str(corpus_file)]), TokenizerSettings(), tmp_path / "out.txt", workers=2)


def test_workers_give_the_same_file_as_one_process(corpus_file, tmp_path):
    one = prepare_corpus(Corpus([str(corpus_file)]), TokenizerSettings(), tmp_path / "one.txt", workers=1)
    two = prepare_corpus(Corpus([str(corpus_file)]), TokenizerSettings(), tmp_path / "two.txt", workers=2)
    assert (tmp_path / "one.txt").read_bytes() == (tmp_path / "two.txt").read_bytes()
    assert one.counts == two.counts and one.stats.tokens == two.stats.tokens == 60_000 * 6
