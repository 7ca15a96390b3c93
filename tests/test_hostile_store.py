"""Hostile use of the store and of export targets: special files, races, leftovers, umask.

Issue items 1 (``--force`` and special files), 7 (races between processes), 15 (leftovers of killed
runs), 16 (the umask) and 20 (the default model removed). The races run real parallel processes.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, invoke

from embcli.folder.atomic import clean_stale
from embcli.store import ModelStore

ROWS, DIM = 40, 8  # the size of conftest's vec_file
EMB = [sys.executable, "-m", "embcli"]


@pytest.fixture
def model(vec_file, emb_home) -> str:
    """Model ``m`` in the test's store, the default."""
    result = invoke(["import", vec_file, "--name", "m"])
    assert result.exit_code == 0, result.stderr
    return "m"


def _dot_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _emb(args, env_home: Path, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, EMB_HOME=str(env_home))
    return subprocess.run([*EMB, *map(str, args)], env=env, capture_output=True, text=True, timeout=120, **kw)


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


# ----------------------------------------------------------------- 1: --force and special files


def test_export_writes_through_a_fifo_and_keeps_it(model, tmp_path):
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    result = invoke(["export", "-m", model, fifo, "--format", "glove", "--force"])
    reader.join(10)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and got[0].count("\n") == ROWS and got[0].startswith("w0 ")
    assert _dot_files(tmp_path) == []


def _char_device(tmp_path: Path) -> Path:
    """A character device to write to: a private /dev/null node when root can make one, else /dev/null."""
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return node
    except (PermissionError, OSError):
        return Path("/dev/null")


@pytest.mark.parametrize("force", [False, True])
def test_export_writes_through_a_character_device(model, tmp_path, force):
    dev = _char_device(tmp_path)
    for fmt in ("glove", "parquet", "word2vec-binary"):
        result = invoke(["export", "-m", model, dev, "--format", fmt] + (["--force"] if force else []))
        assert result.exit_code == 0, result.stderr
        assert stat.S_ISCHR(os.lstat(dev).st_mode)
    assert _dot_files(dev.parent) == [] if dev.parent == tmp_path else True


def test_export_follows_a_symlink_and_keeps_it(model, tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    os.chmod(real, 0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert_clean_error(invoke(["export", "-m", model, link, "--format", "glove"]), 1, "exists", "--force")
    result = invoke(["export", "-m", model, link, "--format", "glove", "--force"])
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and real.read_text().count("\n") == ROWS
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # a replaced file keeps its mode
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "new.txt")
    assert invoke(["export", "-m", model, dangling, "--format", "glove"]).exit_code == 0
    assert dangling.is_symlink() and (tmp_path / "new.txt").read_text().count("\n") == ROWS


def test_export_refuses_a_folder_or_a_socket_as_a_file(model, tmp_path):
    (tmp_path / "dir").mkdir()
    assert_clean_error(invoke(["export", "-m", model, tmp_path / "dir", "--format", "glove", "--force"]), 1, "a folder")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s"))
        assert_clean_error(invoke(["export", "-m", model, tmp_path / "s", "--format", "glove", "--force"]), 1, "a socket")
    finally:
        sock.close()


def _victims(tmp_path: Path) -> dict[str, Path]:
    plain = tmp_path / "file.txt"
    plain.write_text("precious\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    link = tmp_path / "link"
    link.symlink_to(plain)
    return {"a file": plain, "a FIFO": fifo, "a folder that is not an emb model": foreign, "a symlink to a file": link}


def test_folder_export_and_train_output_refuse_what_is_not_a_model_folder(model, tmp_path, web_file):
    for what, path in _victims(tmp_path).items():
        before = os.lstat(path)
        for args in (["export", "-m", model, path, "--format", "folder", "--force"],):
            result = invoke(args)
            assert_clean_error(result, 1, "emb replaces only model folders" if "folder" in what else "not a model folder")
        after = os.lstat(path)
        assert (before.st_mode, before.st_ino) == (after.st_mode, after.st_ino), what
    assert (tmp_path / "file.txt").read_text() == "precious\n"
    assert (tmp_path / "thesis" / "thesis.tex").read_text() == "years of work"
    result = invoke(["train", web_file, "--output", tmp_path / "file.txt", "--force", "--dim", "8", "--epochs", "1"])
    assert_clean_error(result, 1, "is a file, not a model folder")
    assert (tmp_path / "file.txt").read_text() == "precious\n"
    # Someone's folder is refused with or without --force, and the message does not suggest it.
    for force in ([], ["--force"]):
        result = invoke(["train", web_file, "--output", tmp_path / "thesis", *force, "--dim", "8", "--epochs", "1"])
        assert_clean_error(result, 1, "emb replaces only model folders")
        assert "--force" not in result.stderr
    assert _dot_files(tmp_path) == []


def test_output_to_the_current_folder_is_refused_before_training(tmp_path, web_file, monkeypatch):
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    for output in (".", "", ".."):
        result = invoke(["train", web_file, "--output", output, "--dim", "8", "--epochs", "1"])
        assert_clean_error(result, 1, "is the current folder (or holds it)")
    assert list(here.iterdir()) == []


def test_folder_export_replaces_a_model_folder_with_force(model, tmp_path):
    out = tmp_path / "out"
    assert invoke(["export", "-m", model, out, "--format", "folder"]).exit_code == 0
    assert_clean_error(invoke(["export", "-m", model, out, "--format", "folder"]), 1, "exists", "--force")
    assert invoke(["export", "-m", model, out, "--format", "folder", "--force", "--limit", "5"]).exit_code == 0
    assert (out / "vocab.txt").read_text().count("\n") == 5
    assert _dot_files(tmp_path) == []


# ----------------------------------------------------------------- 7: races between processes


def _parallel(commands, home: Path) -> list[subprocess.CompletedProcess]:
    env = dict(os.environ, EMB_HOME=str(home))
    procs = [
        subprocess.Popen([*EMB, *map(str, c)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_parallel_imports_of_one_name_all_succeed(vec_file, emb_home):
    for proc in _parallel([["import", vec_file, "--name", "same", "--force"]] * 6, emb_home):
        _no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
    store = ModelStore(emb_home)
    assert store.default_name() == "same" and store.exists("same")
    assert _dot_files(emb_home / "models") == []
    result = invoke(["neighbors", "w1", "-m", "same"])
    assert result.exit_code == 0 and result.stdout.count("\n") > 1


def test_parallel_first_uses_of_a_file(vec_file, emb_home):
    results = _parallel([["neighbors", "w1", "-m", vec_file, "-k", "3"]] * 6, emb_home)
    for proc in results:
        _no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
    assert len({proc.stdout for proc in results}) == 1
    entries = list((emb_home / "cache").iterdir())
    assert len(entries) == 1 and (entries[0] / "meta.json").is_file()


def test_parallel_use_and_remove_never_leave_a_dangling_default(vec_file, emb_home):
    assert invoke(["import", vec_file, "--name", "keep"]).exit_code == 0
    store = ModelStore(emb_home)
    for _ in range(3):
        assert invoke(["import", vec_file, "--name", "x", "--force", "--no-default"]).exit_code == 0
        for proc in _parallel([["models", "use", "x"], ["models", "rm", "x"], ["models", "use", "x"]], emb_home):
            _no_traceback(proc)
            assert proc.returncode in (0, 1)
        name = store.default_name()
        assert name is None or store.exists(name), name
        store.set_default("keep")


def test_the_lock_serializes_changes(emb_home):
    store = ModelStore(emb_home)
    order = []

    def hold():
        with store.lock():
            order.append("a-in")
            time.sleep(0.2)
            order.append("a-out")

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.05)
    with ModelStore(emb_home).lock():
        order.append("b")
    t.join()
    assert order == ["a-in", "a-out", "b"]


# ----------------------------------------------------------------- 15: leftovers of killed runs


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_leftovers_are_removed_and_reported(model, vec_file, emb_home, tmp_path):
    dead = _dead_pid()
    models = emb_home / "models"
    (models / f".tmp-big-{dead}-abcd1234").mkdir()
    (models / f".tmp-big-{dead}-abcd1234" / "vectors.npy").write_bytes(b"x" * 100)
    (models / f".rm-old-{dead}-zz99yy88").mkdir()
    (models / f".tmp-busy-1-abcd1234").mkdir()  # process 1 runs: not stale
    out = tmp_path / "out"
    out.mkdir()
    (out / f".emb-convert-{dead}-qwer5678").mkdir()
    (out / f".OUT.txt.{dead}.asdf1234.tmp").write_text("half")
    (out / ".hidden-user-file").write_text("mine")

    result = invoke(["import", vec_file, "--name", "again"])
    assert result.exit_code == 0, result.stderr
    assert "emb: note: removed 2 leftover(s) of interrupted runs" in result.stderr
    assert _dot_files(models) == [".tmp-busy-1-abcd1234"]
    result = invoke(["export", "-m", model, out / "OUT.txt"])
    assert result.exit_code == 0 and "removed 2 leftover(s)" in result.stderr and ".OUT.txt." in result.stderr
    result = invoke(["convert", vec_file, out / "C.txt"])
    assert result.exit_code == 0, result.stderr
    assert _dot_files(out) == [".hidden-user-file"]
    # The library returns what it cleaned.
    (models / f".rm-x-{dead}-zz99yy88").mkdir()
    assert [p.name for p in clean_stale(models)] == [f".rm-x-{dead}-zz99yy88"]


def test_a_killed_import_is_cleaned_by_the_next_run(emb_home, tmp_path):
    big = tmp_path / "big.txt"
    rng = np.random.default_rng(1)
    with open(big, "w") as fh:
        fh.write("150000 16\n")
        block = rng.standard_normal((150000, 16)).round(3)
        fh.writelines(f"b{i} " + " ".join(map(str, row)) + "\n" for i, row in enumerate(block))
    models = emb_home / "models"
    models.mkdir(parents=True)
    env = dict(os.environ, EMB_HOME=str(emb_home))
    proc = subprocess.Popen([*EMB, "import", str(big)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not any(p.name.startswith(".tmp-") for p in models.iterdir()) and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = [p.name for p in models.iterdir() if p.name.startswith(".tmp-")]
    assert left and str(proc.pid) in left[0]
    result = _emb(["models", "list"], emb_home)
    assert result.returncode == 0 and "removed 1 leftover(s)" in result.stderr
    assert not any(p.name.startswith(".tmp-") for p in models.iterdir())


# ----------------------------------------------------------------- 16: the umask


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_files_and_folders_follow_the_umask(model, vec_file, emb_home, tmp_path, mask):
    old = os.umask(mask)
    try:
        assert invoke(["export", "-m", model, tmp_path / "a.txt"]).exit_code == 0
        assert invoke(["export", "-m", model, tmp_path / "f", "--format", "folder"]).exit_code == 0
        assert invoke(["import", vec_file, "--name", "u"]).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((tmp_path / "f" / "vectors.npy").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((emb_home / "models" / "u").stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((emb_home / "default").stat().st_mode) == 0o666 & ~mask


# ----------------------------------------------------------------- 20: the default model removed


def test_after_the_default_is_removed_the_error_names_models_use(model, vec_file):
    assert invoke(["import", vec_file, "--name", "other", "--no-default"]).exit_code == 0
    assert invoke(["models", "rm", model]).exit_code == 0
    assert_clean_error(invoke(["neighbors", "w1"]), 1, "emb models use NAME", "other")
    assert invoke(["models", "rm", "other"]).exit_code == 0
    assert_clean_error(invoke(["neighbors", "w1"]), 1, "no model yet: train one")


_POLL = """
import os, sys, time
target, stop = sys.argv[1], sys.argv[2]
seen = missing = 0
while not os.path.exists(stop):
    seen += 1
    if not os.path.isfile(os.path.join(target, "meta.json")):
        missing += 1
print(seen, missing)
"""


def test_a_forced_replacement_never_leaves_the_model_missing(tmp_path):
    """A reader polling in another process never finds the model gone while it is replaced."""
    from embcli.folder import atomic_dir, write_model

    target = tmp_path / "m"
    words, vectors = ["a", "b"], np.ones((2, 3), np.float32)
    with atomic_dir(target) as tmp:
        write_model(tmp, words, vectors, {})
    stop = tmp_path / "stop"
    poller = subprocess.Popen([sys.executable, "-c", _POLL, str(target), str(stop)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    for _ in range(150):
        with atomic_dir(target, force=True) as tmp:
            write_model(tmp, words, vectors, {})
    stop.touch()
    seen, missing = map(int, poller.communicate(timeout=60)[0].split())
    assert seen > 1000 and missing == 0, (seen, missing)


_USE = """
import sys
from embcli.errors import ModelError
from embcli.store import ModelStore
store = ModelStore()
for _ in range(int(sys.argv[1])):
    try:
        store.set_default("x")
    except ModelError:
        pass
"""


def test_use_racing_remove_never_points_the_default_at_a_removed_model(emb_home):
    """Once ``remove`` returns, no ``set_default`` that started before it can name the model."""
    from embcli.folder import write_model

    store = ModelStore(emb_home)
    words, vectors = ["a", "b"], np.ones((2, 3), np.float32)
    env = dict(os.environ, EMB_HOME=str(emb_home))
    user = subprocess.Popen([sys.executable, "-c", _USE, "3000"], env=env)
    dangling = rounds = 0
    try:
        while user.poll() is None:
            with store.writer("x", force=True) as tmp:
                write_model(tmp, words, vectors, {})
            store.remove("x")
            time.sleep(0.002)  # a set_default that passed its check before the removal has written by now
            rounds += 1
            dangling += store.default_name() == "x"
    finally:
        user.wait(60)
    assert rounds > 5 and dangling == 0, (rounds, dangling)


def test_a_cache_entry_finished_first_by_another_process_is_kept(tmp_path):
    from embcli.folder import atomic_dir, write_model

    target = tmp_path / "entry"
    words, vectors = ["a", "b"], np.ones((2, 3), np.float32)
    with atomic_dir(target, keep_existing=True) as mine:
        write_model(mine, words, vectors, {"algorithm": "mine"})
        with atomic_dir(target, keep_existing=True) as theirs:  # finishes first
            write_model(theirs, words, vectors, {"algorithm": "theirs"})
    assert '"theirs"' in (target / "meta.json").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]


def test_removing_a_linked_model_removes_only_the_link(model, emb_home, tmp_path):
    real = tmp_path / "elsewhere"
    os.replace(emb_home / "models" / model, real)
    (emb_home / "models" / "linked").symlink_to(real)
    assert invoke(["neighbors", "w1", "-m", "linked"]).exit_code == 0
    assert invoke(["models", "rm", "linked"]).exit_code == 0
    assert not (emb_home / "models" / "linked").exists() and (real / "meta.json").is_file()
    assert _dot_files(emb_home / "models") == []


def test_a_projector_folder_is_replaced_with_force(model, tmp_path):
    out = tmp_path / "proj"
    for extra in ([], ["--force"]):
        result = invoke(["export", "-m", model, out, "--format", "projector", *extra])
        assert result.exit_code == 0, result.stderr
    assert (out / "vectors.tsv").read_text().count("\n") == ROWS
    assert _dot_files(tmp_path) == []
