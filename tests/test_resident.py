"""Giving back LLVM's pages once the training's kernels are loaded (``embcli.training.resident``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from embcli.training.resident import _candidates

SMAPS = """\
7f0000000000-7f0000365000 r--p 00000000 fd:01 42    /venv/site-packages/llvmlite/binding/libllvmlite.so
Size:               3476 kB
Rss:                1200 kB
Anonymous:             0 kB
7f0000365000-7f0005394000 r-xp 00365000 fd:01 42    /venv/site-packages/llvmlite/binding/libllvmlite.so
Size:              82108 kB
Rss:               52000 kB
Anonymous:             0 kB
7f0009677000-7f000983b000 r--p 09677000 fd:01 42    /venv/site-packages/llvmlite/binding/libllvmlite.so
Size:               1808 kB
Rss:               1808 kB
Anonymous:          1808 kB
7f000983b000-7f0009930000 rw-p 0983b000 fd:01 42    /venv/site-packages/llvmlite/binding/libllvmlite.so
Size:                980 kB
Rss:                 500 kB
Anonymous:             0 kB
7f0a00000000-7f0a00001000 r-xp 00000000 fd:01 44    /home/a user/my venv/llvmlite/binding/libllvmlite.so
Size:                  4 kB
Rss:                   4 kB
Anonymous:             0 kB
7f1000000000-7f1000300000 r-xp 00000000 fd:01 43    /usr/lib/libc.so.6
Size:               3072 kB
Rss:                1000 kB
Anonymous:             0 kB
7f2000000000-7f2000100000 rw-p 00000000 00:00 0
Size:               1024 kB
Rss:                1024 kB
Anonymous:          1024 kB
VmFlags: rd wr mr mw me ac
"""


def test_only_llvm_read_only_unmodified_mappings_are_chosen():
    ranges = _candidates(SMAPS)
    # The headers and the code: read-only and equal to the file. Not the relocated data (anonymous
    # pages), not the writable data, not another library, not the heap.
    assert ranges == [
        (0x7F0000000000, 0x7F0000365000, 1200 * 1024),
        (0x7F0000365000, 0x7F0005394000, 52000 * 1024),
        (0x7F0A00000000, 0x7F0A00001000, 4 * 1024),  # a path with spaces
    ]


PROBE = textwrap.dedent(
    """
    import json
    import numpy as np
    from numba import njit
    from embcli.training.common import load_id_kernels
    from embcli.training.resident import release_compiler_pages

    def rss():
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmRSS:"))

    load_id_kernels()
    before = rss()
    released = release_compiler_pages()
    after = rss()
    from embcli.training import id_kernels
    blob = np.frombuffer(b"ab", dtype=np.uint8)
    offsets = np.array([0, 1, 2], dtype=np.int64)
    table = id_kernels.build_table(blob, offsets)
    out = np.empty(8, dtype=np.int32)
    k = id_kernels.text_to_ids(np.frombuffer(b"b a c\\n", dtype=np.uint8), blob, offsets, table, 9, out)

    @njit
    def twice_sum(a):  # compiled after the release: LLVM reads its pages back
        return 2 * a.sum()

    print(json.dumps({"before": before, "after": after, "released": released, "ids": out[:k].tolist(),
                      "compiled": float(twice_sum(np.arange(5.0)))}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_release_shrinks_the_process_and_kernels_keep_working(tmp_path):
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    got = json.loads(run.stdout)
    assert got["released"] > 20 * 2**20  # LLVM's code alone is tens of MB once a kernel is loaded
    assert got["before"] - got["after"] > got["released"] // 2
    assert got["ids"] == [1, 0, 9]  # the loaded kernel still runs
    assert got["compiled"] == 20.0  # and a new compilation still works
