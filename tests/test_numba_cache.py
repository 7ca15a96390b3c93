"""numba's disk cache goes to a user folder (or the one the user chose), never the installed package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embcli import _numba_cache

ROOT = Path(__file__).resolve().parent.parent


def test_numba_cache_goes_to_the_xdg_cache_folder():
    assert _numba_cache.cache_dir({"XDG_CACHE_HOME": "/c"}) == os.path.join("/c", "emb", "numba")


def test_numba_cache_defaults_to_dot_cache_in_home():
    expected = os.path.join(os.path.expanduser("~"), ".cache", "emb", "numba")
    assert _numba_cache.cache_dir({}) == expected
    assert _numba_cache.cache_dir({"XDG_CACHE_HOME": "relative/path"}) == expected


@pytest.mark.parametrize("users", ["/mine", ""])
def test_a_user_set_numba_cache_dir_is_kept(users):
    environ = {"NUMBA_CACHE_DIR": users, "XDG_CACHE_HOME": "/c"}
    assert _numba_cache.cache_dir(environ) is None
    _numba_cache.configure(environ)
    assert environ["NUMBA_CACHE_DIR"] == users


def test_configure_sets_the_variable_when_unset():
    environ = {"XDG_CACHE_HOME": "/c"}
    _numba_cache.configure(environ)
    assert environ["NUMBA_CACHE_DIR"] == os.path.join("/c", "emb", "numba")


def _fresh_python(code: str, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**base, **env}, cwd=ROOT)


def test_kernels_compiled_after_importing_embcli_are_cached_in_the_user_folder(tmp_path):
    code = (
        "import json, os, numba\n"  # numba first, as a user's own program may do
        "from embcli.subword_kernels import ngram_buckets_block\n"
        "ids, lengths = ngram_buckets_block(['king', 'queen'], 3, 6, 1000)\n"
        "print(json.dumps([os.environ['NUMBA_CACHE_DIR'], numba.config.CACHE_DIR, int(lengths.sum())]))\n"
    )
    done = _fresh_python(code, {"XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    folder = str(tmp_path / "emb" / "numba")
    assert json.loads(done.stdout) == [folder, folder, 24]  # 10 n-grams of 3-6 characters in <king>, 14 in <queen>
    cached = [p.name for p in (tmp_path / "emb" / "numba").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert any(name.startswith("subword_kernels._hash_block") for name in cached), cached


def test_a_user_set_numba_cache_dir_reaches_numba(tmp_path):
    done = _fresh_python("import embcli, numba; print(numba.config.CACHE_DIR)", {"NUMBA_CACHE_DIR": str(tmp_path / "mine")})
    assert done.returncode == 0 and done.stdout.strip() == str(tmp_path / "mine")
