"""The exceptions the library raises; the CLI turns each into one line on stderr and exit code 1."""

import errno
import numbers
import signal


class EmbError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""

    exit_code = 1


class UsageError(EmbError):
    """Arguments that cannot work together or are out of range (exit code 2)."""

    exit_code = 2


class CorpusError(EmbError):
    """A corpus that cannot be read or holds nothing to train on."""


class ModelError(EmbError):
    """A model that does not exist, already exists, or is damaged."""


class DamagedRowError(ModelError):
    """A stored row holding NaN or an infinity, which emb never writes: the file was damaged after it
    was written. ``row`` counts from 0; the message says which model and word when the caller knows."""

    def __init__(self, message: str, row: int):
        super().__init__(message)
        self.row = row


def damaged_rows(row: int, word: str | None = None, model: str | None = None) -> DamagedRowError:
    """The ``DamagedRowError`` of ``row``, naming its word and model when given."""
    if model is None:
        return DamagedRowError(f"row {row + 1} of the vectors searched holds NaN or infinite values, which emb never"
                               " writes: the file was damaged after it was written; write it again", row)
    which = f"row {row + 1} of vectors.npy"
    if word is not None:
        which = f"the vector of {word!r} ({which})"
    return DamagedRowError(f"model {model!r} is damaged: {which} holds NaN or infinite values; import or train"
                           " it again", row)


class UnknownWordError(EmbError):
    """A query word that is not in the model's vocabulary."""


class FormatError(EmbError):
    """A file in an external format that cannot be read as that format."""


class DatasetError(EmbError):
    """An evaluation set (analogies, word pairs) that cannot be read or parsed."""


class OutputError(EmbError):
    """An output file that cannot be written (a missing folder, no permission, a full disk)."""


class TrainingError(EmbError):
    """Training settings that leave nothing to train (for instance an empty vocabulary)."""


class StorageError(EmbError):
    """A disk that is full or read-only, or a closed standard stream: the fix is where to write."""


_STORAGE_FIXES = {
    errno.ENOSPC: ("no space left on device", "free some space, or write elsewhere (EMB_HOME for the model store)"),
    errno.EDQUOT: ("disk quota exceeded", "free some space, or write elsewhere (EMB_HOME for the model store)"),
    errno.EROFS: ("read-only file system", "write elsewhere (set EMB_HOME to a writable folder for the model store)"),
    errno.EACCES: ("permission denied", "check its permissions, or use another place"),
    errno.EPERM: ("operation not permitted", "check its permissions, or use another place"),
}


def storage_error(exc: BaseException, where=None) -> StorageError | None:
    """The ``StorageError`` for an OSError of a full, read-only or forbidden place, else None.

    It names the file of the error when the system gave one, else ``where`` (what was being
    written); other OSErrors (a missing file, a broken pipe) are not storage errors.
    """
    if not isinstance(exc, OSError) or exc.errno not in _STORAGE_FIXES:
        return None
    what, fix = _STORAGE_FIXES[exc.errno]
    # A copy or a rename names both paths: the second is the one written.
    place = next((p for p in (exc.filename2, exc.filename, where) if p is not None), None)
    return StorageError(f"{place}: {what}: {fix}" if place is not None else f"{what}: {fix}")


class MissingExtraError(EmbError):
    """An optional feature whose extra is not installed; the message names the pip command.

    Raised by ``embcli.extras.require``. The arguments are kept as they are given (not only the
    message) so that the error survives pickling from a worker process.
    """

    def __init__(self, module: str, extra: str, feature: str | None = None, reason: str | None = None):
        super().__init__(module, extra, feature, reason)
        self.module, self.extra, self.feature, self.reason = module, extra, feature, reason

    def __str__(self) -> str:
        what = self.feature or self.module
        if self.reason is None:
            why = f"{self.module} is not installed"
        else:
            why = f"{self.module} cannot be imported: {self.reason}"
        return f"{what} needs the '{self.extra}' extra ({why}): pip install 'embcli[{self.extra}]'"


# More threads than any machine has cores is a mistake (and past 2**31 an overflow in the libraries).
MAX_THREADS = 1024


def check_threads(threads) -> None:
    """``--threads``: a whole number of at least 1 (None: the default, all cores)."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UsageError(f"--threads {threads}: give a whole number of at least 1")
    if threads > MAX_THREADS:
        raise UsageError(f"--threads {threads}: give at most {MAX_THREADS:,}")


def check_whole(name: str, value, optional: bool = True) -> None:
    """Refuse a value that is not a whole number (a string, a float, a bool) for the setting ``name``
    (``--dim``, ``k``): the library's callers pass Python values the command line would refuse."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} {value!r}: give a whole number")


def check_seed(seed) -> None:
    """``--seed``: a whole number from 0 to 2**32 - 1 (what numpy's and scikit-learn's generators take)."""
    check_whole("--seed", seed, optional=False)
    if not 0 <= seed < 2**32:
        raise UsageError(f"--seed {seed} is out of range: use a number from 0 to {2**32 - 1}")


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, a KeyboardInterrupt (Ctrl-C).

    Ctrl-C can land inside library code (a decompressor, an import) that turns it into another
    exception chained to it; such an error is an interruption, not a fault of the input.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# Ctrl-C that library code swallowed is still Ctrl-C. Some code clears every error it meets (C code
# around an optional import, importlib's callbacks, which print "Exception ignored"), so the
# KeyboardInterrupt that a SIGINT raised there is lost and the work goes on as if nothing happened.
# A program that calls ``note_interrupts`` (the command line does) has SIGINT leave a note as well,
# which ``raise_if_interrupted`` turns into a KeyboardInterrupt at the next long wait or before a
# result is saved. The library itself installs no handler: in a notebook, Ctrl-C stays Python's.
_INTERRUPTED: list[int] = []

# The signals that end a command as Ctrl-C does (its clean-up run, nothing half-written left): SIGINT;
# SIGTERM (``kill``, ``timeout``, a container stopping) and SIGHUP (its terminal closed), whose default
# would end the process at once and leave its temporary folder behind. Each is named and exits
# 128 + its number, as a shell reports a process it ended.
ENDING = {name: getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)}
_SAID = {"SIGINT": "interrupted", "SIGTERM": "terminated", "SIGHUP": "hung up"}


def _note_and_raise(signum, frame):
    _INTERRUPTED.append(signum)
    raise KeyboardInterrupt


def note_interrupts() -> None:
    """Have SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt, as Python's own handler does for SIGINT,
    and leave a note of the signal (``interruption``). A signal the parent set to be ignored stays
    ignored (``nohup``, a shell's background job), as Python leaves an ignored SIGINT."""
    for signum in ENDING.values():
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, _note_and_raise)


def was_interrupted() -> bool:
    """Whether an ending signal has been noted (``note_interrupts``): an error raised after it (library
    code that turned the KeyboardInterrupt into its own error) is the interruption, not a fault."""
    return bool(_INTERRUPTED)


def interruption() -> tuple[str, int]:
    """What to say of the interruption noted first, and the exit code: ("interrupted", 130) for
    Ctrl-C, and for none noted (a KeyboardInterrupt raised otherwise)."""
    signum = _INTERRUPTED[0] if _INTERRUPTED else ENDING["SIGINT"]
    name = next((n for n, s in ENDING.items() if s == signum), "SIGINT")
    return _SAID[name], 128 + int(signum)


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if an ending signal has been noted (``note_interrupts``), even one swallowed."""
    if _INTERRUPTED:
        raise KeyboardInterrupt
