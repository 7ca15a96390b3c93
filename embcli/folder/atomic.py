"""Atomic creation of a folder: work in a temporary sibling, rename it into place at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from embcli.errors import ModelError


@contextmanager
def atomic_dir(target: Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; rename it into place if the block succeeds.

    On any exception (Ctrl-C included) the temporary folder is removed and ``target`` is untouched.
    With ``force`` an existing ``target`` is replaced; without it, it is refused before any work.
    """
    target = Path(target)
    if target.exists() and not force:
        raise ModelError(f"{target} exists: pass --force to replace it, or choose another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            if not force:
                raise ModelError(f"{target} appeared while writing: pass --force to replace it")
            old = target.parent / f".old-{target.name}-{os.getpid()}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
