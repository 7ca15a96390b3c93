"""``emb --engine spark`` as a user runs it, in a process of its own: Ctrl-C (the one run here that
starts a JVM, several seconds: the other Spark tests share one session in-process) with Spark's log
off the terminal, and no Java."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.xdist_group("spark")


def _env(emb_home, **extra):
    env = dict(os.environ, EMB_HOME=str(emb_home), **extra)
    env.pop("PYSPARK_GATEWAY_PORT", None)
    return env


def _needs_spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (the CI installs openjdk-17-jre-headless)")


def _models(emb_home):
    models = emb_home / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_the_spark_job(emb_home, small_corpus):
    _needs_spark()
    cmd = [sys.executable, "-m", "embcli", "train", str(small_corpus), "--engine", "spark", "--master", "local[2]",
           "--dim", "50", "--epochs", "200", "--name", "never"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(emb_home))
    models = emb_home / "models"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            tmp = [p for p in models.iterdir() if p.name.startswith(".tmp-")] if models.exists() else []
            if tmp and (tmp[0] / "spark.tmp").exists():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the Spark job did not start in time")
        time.sleep(3)  # counting and training jobs under way
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 30
    # The JVM started, ran jobs and was stopped: none of its log reached the terminal.
    assert err == "emb: interrupted\n"
    assert _models(emb_home) == [] and not (emb_home / "default").exists()


def test_no_java_is_one_line_naming_the_fix(emb_home, small_corpus, tmp_path):
    pytest.importorskip("pyspark")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = _env(emb_home, PATH=str(bin_dir))
    env.pop("JAVA_HOME", None)
    done = subprocess.run([sys.executable, "-m", "embcli", "vocab", str(small_corpus), "--engine", "spark"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("emb: error: no Java runtime found") and done.stderr.count("\n") == 1
    assert "apt-get install openjdk-17-jre-headless" in done.stderr and done.stdout == ""
