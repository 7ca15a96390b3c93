"""The ``emb`` console script and ``python -m embcli``: the first module imported, so that Ctrl-C
while Python is still importing the command line ends with exit code 130, not a traceback (and
SIGTERM, SIGHUP with theirs: ``errors.note_interrupts``)."""

import sys


def main() -> None:
    """Import the command line and run it; Ctrl-C during the import exits 130 quietly."""
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
    import os

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
