"""Ctrl-C during ``emb train``: exit 130, no temporary folder left, the previous default untouched."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import SAMPLE, TINY, invoke


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _wait_for_tokenizing(models, timeout=120.0):
    """Wait until the tokenizing pass has begun writing its file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tmp = [p for p in models.iterdir() if p.name.startswith(".tmp-")]
        if tmp and (tmp[0] / "corpus.tmp").exists() and (tmp[0] / "corpus.tmp").stat().st_size > 0:
            return
        time.sleep(0.01)
    pytest.fail("tokenizing did not start in time")


def _wait_for_training(models, timeout=120.0):
    """Wait until the tokenizing pass has written its file completely (training has begun)."""
    deadline = time.monotonic() + timeout
    last, stable_since = -1, None
    while time.monotonic() < deadline:
        tmp = [p for p in models.iterdir() if p.name.startswith(".tmp-")]
        tokens = tmp[0] / "corpus.tmp" if tmp else None
        size = tokens.stat().st_size if tokens is not None and tokens.exists() else -1
        if size > 0 and size == last:
            if stable_since is None:
                stable_since = time.monotonic()
            elif time.monotonic() - stable_since > 0.5:
                return
        else:
            stable_since = None
        last = size
        time.sleep(0.05)
    pytest.fail("training did not start in time")


def _wait_for_id_file(models, timeout=120.0):
    """Wait until emb's FastText or Word2Vec trainer has replaced the tokenized text by its id file (training has begun)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tmp = [p for p in models.iterdir() if p.name.startswith(".tmp-")]
        if tmp and (tmp[0] / "work.tmp" / "corpus.ids").exists() and not (tmp[0] / "corpus.tmp").exists():
            time.sleep(0.5)
            return
        time.sleep(0.01)
    pytest.fail("training did not start in time")


# Moments of a training run to stop: (wait, threads, algo, loss) by name.
STAGES = {
    "gensim-training": (_wait_for_training, 1, "word2vec", "hs"),
    "word2vec-training": (_wait_for_id_file, 1, "word2vec", "ns"),
    "word2vec-training-in-threads": (_wait_for_id_file, 2, "word2vec", "ns"),
    "tokenizing": (_wait_for_tokenizing, 1, "word2vec", "ns"),
    "tokenizing-in-workers": (_wait_for_tokenizing, 2, "word2vec", "ns"),
    "fasttext-training-in-threads": (_wait_for_id_file, 2, "fasttext", "ns"),
}


def _stages(*names):
    return pytest.mark.parametrize("wait, threads, algo, loss", [STAGES[n] for n in names or STAGES],
                                   ids=list(names or STAGES))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@_stages()
def test_ctrl_c(emb_home, small_corpus, wait, threads, algo, loss):
    _interrupt_training(emb_home, small_corpus, wait, threads, algo, loss, signal.SIGINT, group=True)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@_stages("gensim-training", "word2vec-training-in-threads", "tokenizing-in-workers")
@pytest.mark.parametrize("signum, group", [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGHUP, True)],
                         ids=["kill", "kill-group", "hang-up"])
def test_sigterm_and_sighup_clean_up_as_ctrl_c_does(emb_home, small_corpus, wait, threads, algo, loss, signum, group):
    """``kill PID`` (SIGTERM to emb alone, its tokenizing workers left to it), SIGTERM to the whole
    group (a service manager) and a closed terminal (SIGHUP) leave no temporary folder behind and exit
    128 + the signal's number, naming it."""
    _interrupt_training(emb_home, small_corpus, wait, threads, algo, loss, signum, group)


def _interrupt_training(emb_home, small_corpus, wait, threads, algo, loss, signum, group):
    assert invoke(["train", small_corpus, *TINY, "--name", "previous"]).exit_code == 0
    models = emb_home / "models"
    before = _digest(models / "previous")

    # The whole sample corpus for 50 epochs: minutes of work, interrupted a moment after it starts.
    cmd = [sys.executable, "-m", "embcli", "train", str(SAMPLE), "--epochs", "50", "--dim", "50",
           "--threads", str(threads), "--name", "interrupted", "--algo", algo, "--loss", loss]

    def default_signals():
        # A test runner started in the background may ignore SIGINT; the child must not.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
        preexec_fn=default_signals, start_new_session=True,
    )
    try:
        wait(models)
        assert proc.poll() is None, "training ended before it could be interrupted"
        if group:
            os.killpg(proc.pid, signum)  # as a terminal does: the whole process group
        else:
            os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = err.decode()
    said = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}[signum]
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"emb: {said}"
    assert out == b""
    assert sorted(p.name for p in models.iterdir()) == ["previous"]
    assert (emb_home / "default").read_text().strip() == "previous"
    assert _digest(models / "previous") == before
    # No process of the run is left (the tokenizing workers end with it).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a process of the interrupted run outlived it")


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_gensim_runs_where_ctrl_c_cannot_land():
    """gensim's training thread, and the threads it starts, block SIGINT: the kernel must hand Ctrl-C
    to the waiting thread, not to a thread busy in C that gensim would hear only at the epoch's end."""
    from embcli.training.gensim_trainer import _run_blocking_sigint

    seen = {}

    def work():
        seen["runner"] = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
        inner = threading.Thread(target=lambda: seen.update(inner=signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
        inner.start()
        inner.join()

    _run_blocking_sigint(work)
    assert seen == {"runner": True, "inner": True}
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # the caller's mask is untouched

    def fail():
        raise ValueError("from the training thread")

    with pytest.raises(ValueError, match="from the training thread"):
        _run_blocking_sigint(fail)


def test_a_swallowed_ctrl_c_is_raised_again_and_nothing_is_saved(tmp_path):
    """Library code that swallows the KeyboardInterrupt of a SIGINT (C code clearing every error,
    importlib's callbacks) does not make the command carry on and save: the note SIGINT leaves is
    raised at the next wait and before a folder is moved into place."""
    script = f"""
import os, signal, sys
from pathlib import Path
from embcli.errors import note_interrupts, raise_if_interrupted
from embcli.folder.atomic import atomic_dir

raise_if_interrupted()  # nothing noted yet: no error
note_interrupts()
try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(10**6):
        pass
except BaseException:
    pass  # swallowed, as some library code does
target = Path({str(tmp_path / "model")!r})
try:
    with atomic_dir(target) as tmp:
        (tmp / "vectors.npy").write_bytes(b"x")
except KeyboardInterrupt:
    print("interrupted", target.exists(), sorted(p.name for p in target.parent.iterdir()))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted False []"


def _signals(pid: int, field: str) -> int:
    """The signal mask ``field`` (SigIgn, SigCgt) of process ``pid``, from /proc."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    raise AssertionError(f"no {field} for {pid}")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads signal masks from /proc")
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT], ids=["nohup", "background-job"])
def test_a_signal_the_parent_ignored_stays_ignored(tmp_path, signum):
    """``nohup emb ...`` ignores SIGHUP, a shell's background job SIGINT: emb keeps them ignored (and
    carries on when they come) while it handles the other ending signals."""
    env = {**os.environ, "EMB_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "embcli", "tokenize", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, preexec_fn=lambda: signal.signal(signum, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 60
        while not _signals(proc.pid, "SigCgt") & (1 << (signal.SIGTERM - 1)):  # emb's handlers are in place
            assert time.monotonic() < deadline and proc.poll() is None, "emb did not start"
            time.sleep(0.02)
        assert _signals(proc.pid, "SigIgn") & (1 << (signum - 1))
        proc.send_signal(signum)
        time.sleep(0.3)
        assert proc.poll() is None
        out, err = proc.communicate(b"Still here, after all\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.decode().split() == ["still", "here", "after", "all"]


@pytest.mark.skipif(importlib.util.find_spec("faiss") is None, reason="faiss (the index extra) is not installed")
def test_kill_while_indexing_is_a_clean_end(tmp_path):
    """A signal while faiss inserts rows ends the command as soon as the current block of rows is in:
    no traceback and no index half-written."""
    import numpy as np
    from query_models import write_toy_model

    vectors = np.random.default_rng(0).standard_normal((100_000, 64)).astype(np.float32)
    model = write_toy_model(tmp_path / "big", [f"w{i}" for i in range(len(vectors))], vectors)
    script = f"""
import os, signal, sys, threading
import faiss

add = faiss.IndexHNSWFlat.add
started = []

def add_then_killed(self, *args, **kwargs):  # SIGTERM a moment after the insertion starts
    if not started:
        started.append(1)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    return add(self, *args, **kwargs)

faiss.IndexHNSWFlat.add = add_then_killed
sys.argv = ["emb", "index", {str(model)!r}, "--threads", "1", "--sample", "50"]
from embcli.cli.entry import main
main()
"""
    env = {**os.environ, "EMB_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "emb: terminated"
    assert sorted(p.name for p in model.iterdir()) == ["meta.json", "norms.npy", "vectors.npy", "vocab.txt"]
