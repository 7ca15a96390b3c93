"""The ``emb`` console script and ``python -m embcli``: the first module imported, so that Ctrl-C
while Python is still importing the command line ends with exit code 130, not a traceback (and
SIGTERM, SIGHUP with theirs: ``errors.note_interrupts``)."""

import os
import sys

# OpenBLAS (numpy's BLAS) starts a thread per core with numpy, and after starting and after each call
# those threads spin for about 2**28 cycles before they sleep: on a 2-core machine a cold query's
# main thread shares its cores with that spinning (`emb neighbors` through an index: 0.166 s, with
# the spinning cut to 2**4 cycles 0.143 s; `emb evaluate` 3.67 -> 3.56 s). Sleeping at once costs a
# large scan nothing measurable (1,000 exact queries of a 1M-word model: 1.59 -> 1.50 s). A value the
# user set is kept; the library (``import embcli``) leaves the environment alone.
BLAS_SPIN = ("OPENBLAS_THREAD_TIMEOUT", "4")


def main() -> None:
    """Import the command line and run it; Ctrl-C during the import exits 130 quietly."""
    os.environ.setdefault(*BLAS_SPIN)  # before numpy is imported: OpenBLAS reads it when it starts
    try:
        from embcli.errors import note_interrupts

        note_interrupts()
        from embcli.cli.app import main as run
    except KeyboardInterrupt:
        _interrupted()
    except BaseException as exc:
        # Ctrl-C inside an import can surface as another error chained to it.
        from embcli.errors import caused_by_interrupt

        if not caused_by_interrupt(exc):
            raise
        _interrupted()
    run()


def _interrupted() -> None:
    try:
        from embcli.errors import interruption

        said, code = interruption()
    except BaseException:
        said, code = "interrupted", 130
    try:
        sys.stderr.write(f"emb: {said}\n")
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(code)
