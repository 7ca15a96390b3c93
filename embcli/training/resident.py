"""Give back the compiler's code pages once a trainer's kernels are loaded.

numba loads LLVM (llvmlite's shared library, about 150 MB on disk) to compile a kernel or to load
it from numba's cache, and the pages of LLVM's code and constant data that this touches stay mapped
in the process: about 68 MB of its resident memory, more than the two matrices of a 50,000-word,
100-dimension model. Once the kernels a training runs are loaded, LLVM is not run again until
something is compiled or loaded, so ``release_compiler_pages`` tells the operating system that the
process no longer needs those pages (``madvise(MADV_DONTNEED)``).

Only mappings of llvmlite's library that are not writable and hold no page the process has
modified (``Anonymous: 0 kB`` in ``/proc/self/smaps``) are released: every page of them equals the
file, so a later use of LLVM (the next compilation) reads the same bytes back from the page cache.
The relocated read-only data (RELRO), whose pages differ from the file, is never touched. On a
system without ``/proc/self/smaps`` or ``madvise`` nothing happens.
"""

from __future__ import annotations

import ctypes
import os
import sys

MADV_DONTNEED = 4
_LIBRARY = "libllvmlite"


def _candidates(smaps: str) -> list[tuple[int, int, int]]:
    """The (start, end, resident bytes) of llvmlite's read-only, unmodified mappings in a smaps text."""
    ranges = []
    current = None
    resident = 0
    for line in smaps.splitlines():
        fields = line.split(None, 5)  # the path, last, may hold spaces
        if not fields:
            continue
        if "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
            current = None
            path = fields[5].rstrip("\n") if len(fields) >= 6 else ""
            if _LIBRARY in os.path.basename(path) and "w" not in fields[1]:
                lo, hi = fields[0].split("-")
                current = (int(lo, 16), int(hi, 16))
                resident = 0
        elif current is not None and fields[0] == "Rss:":
            resident = int(fields[1]) * 1024
        elif current is not None and fields[0] == "Anonymous:":
            if fields[1] == "0":
                ranges.append((*current, resident))
            current = None
    return ranges


def release_compiler_pages() -> int:
    """Drop LLVM's unmodified read-only pages from this process; return how many bytes were resident.

    Safe at any time: a page used again is read back from the page cache. Returns 0 where it cannot
    be done (not Linux, numba not loaded, no access to ``/proc``).
    """
    if not sys.platform.startswith("linux") or "llvmlite.binding" not in sys.modules:
        return 0
    try:
        with open("/proc/self/smaps", encoding="ascii", errors="replace") as fh:
            ranges = _candidates(fh.read())
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return 0
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    released = 0
    for lo, hi, resident in ranges:
        if madvise(lo, hi - lo, MADV_DONTNEED) == 0:
            released += resident
    return released
