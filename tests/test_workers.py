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


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended: nobody has reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("busy", [True, False], ids=["blocked-sending", "idle"])
def test_workers_end_when_their_parent_is_killed(tmp_path, busy):
    """A parent killed outright (SIGKILL, the out-of-memory killer) runs no clean-up: its workers must
    notice and end, whether blocked sending it a result or waiting for the next block."""
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "embcli", "train", "--threads", "2", "--name", "killed", "--epochs", "1"]
    env = dict(os.environ, EMB_HOME=str(tmp_path / "home"))
    if busy:
        corpus = tmp_path / "c.txt"
        corpus.write_text("".join(f"line {i} of some words here and more\n" for i in range(300_000)), encoding="utf-8")
        proc = subprocess.Popen([*cmd, str(corpus)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    else:
        # A few lines and stdin left open: the workers wait for the next block.
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        proc.stdin.write(b"a few words\n" * 10)
        proc.stdin.flush()
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert len(workers) == 2, "the worker processes did not start"
        if busy:
            # The parent stops reading: the workers finish their blocks and block sending the results.
            os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(1.0)
        assert all(_running(w) for w in workers)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_running(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [w for w in workers if _running(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, "worker processes outlived their killed parent"


def test_an_interrupted_pass_leaves_no_thread_or_pipe_behind(corpus_file, tmp_path):
    """A notebook's Ctrl-C during tokenizing left, each time, feeder threads blocked for good on a
    full pipe whose reader had been killed, with both its ends open."""
    def threads_and_fds():
        return threading.active_count(), len(os.listdir("/proc/self/fd"))

    def stop(done, total):
        raise KeyboardInterrupt

    before = threads_and_fds()
    for n in range(3):
        corpus = Corpus([str(corpus_file)])
        with pytest.raises(KeyboardInterrupt):
            for _ in prepare.map_blocks(corpus, TokenizerSettings(), "prepare", 2, stop):
                pass
    assert threads_and_fds() == before
