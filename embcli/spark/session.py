"""The Spark session of a run: checks before the JVM starts, its log kept off the terminal, progress
from the status tracker, and Spark's failures turned into one-line errors.

A session already running in the process (``spark-submit``, a notebook, a test fixture) is used as it
is; otherwise one is started with ``SparkOptions.master`` and ``conf``. The JVM's own output goes to
a log file (``SparkOptions.show_logs`` keeps it on stderr); a failure names the file.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from embcli.errors import CorpusError, EmbError, MissingExtraError, TrainingError, UsageError
from embcli.extras import require

DEFAULT_MASTER = "local[*]"
# How long a spark:// or k8s:// master gets to accept a connection before the run is refused.
CONNECT_SECONDS = 10.0
# How often the progress thread asks the status tracker.
POLL_SECONDS = 0.5
# How long a Ctrl-C waits for the cancelled jobs to return before it interrupts the main thread.
CANCEL_WAIT = 30.0

_MASTER_RE = re.compile(
    r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|yarn|spark://[^\s/]+(,[^\s/]+)*|k8s://\S+"
)
JAVA_FIX = (
    "Spark needs a Java 17 or later runtime: install one (Debian/Ubuntu: apt-get install"
    " openjdk-17-jre-headless) or set JAVA_HOME"
)


@dataclass
class SparkOptions:
    """Where and how Spark runs: ``master`` (None: ``local[*]``, or what spark-submit set), extra
    ``conf`` entries, the number of ``partitions`` (None: the input's own splits; MLlib's Word2Vec 1),
    and ``show_logs`` to leave Spark's log on stderr."""

    master: str | None = None
    conf: dict[str, str] = field(default_factory=dict)
    partitions: int | None = None
    show_logs: bool = False

    def __post_init__(self):
        if self.master is not None:
            check_master(self.master)
        if self.partitions is not None and self.partitions < 1:
            raise UsageError("--partitions must be at least 1")
        for key in self.conf:
            if not key or any(c.isspace() for c in key):
                raise UsageError(f"--conf {key!r}: give KEY=VALUE with a Spark property as KEY")


def parse_conf(items) -> dict[str, str]:
    """``--conf KEY=VALUE`` items as a dict; a malformed item is a usage error."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--conf {item!r} is not KEY=VALUE: write for example --conf spark.executor.memory=4g")
        out[key.strip()] = value
    return out


def check_master(master: str) -> None:
    """Refuse a master URL Spark cannot parse, and a spark:// or k8s:// master that does not answer."""
    if not _MASTER_RE.fullmatch(master):
        raise UsageError(
            f"--master {master!r} is not a Spark master URL: use local[*], local[N], spark://HOST:PORT,"
            " yarn or k8s://https://HOST:PORT"
        )


def check_reachable(master: str, timeout: float = CONNECT_SECONDS) -> None:
    """Connect to the host(s) of a spark:// or k8s:// master; refuse the run if none answers."""
    if master.startswith("spark://"):
        hosts = master[len("spark://"):].split(",")
    elif master.startswith("k8s://"):
        rest = re.sub(r"^(https?://)", "", master[len("k8s://"):])
        hosts = [rest.split("/")[0] if ":" in rest.split("/")[0] else rest.split("/")[0] + ":443"]
    else:
        return
    reasons = []
    for host in hosts:
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise UsageError(f"--master {master!r}: {host!r} is not HOST:PORT")
        try:
            with socket.create_connection((name.strip("[]"), int(port)), timeout=timeout):
                return
        except OSError as exc:
            reasons.append(f"{host}: {exc.strerror or exc}")
    raise TrainingError(
        f"cannot reach the Spark master {master} ({'; '.join(reasons)}): check --master and that the master runs"
    )


def check_java() -> None:
    """Raise the one-line error naming the fix when no ``java`` can be found."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return
    if shutil.which("java") is None:
        raise TrainingError(f"no Java runtime found: {JAVA_FIX}")


class _Log:
    """The file the JVM writes its output to: unlinked at once (nothing is left behind, even when the
    process ends abruptly); its content is copied to a named file only when an error points to it."""

    file = None
    path: str | None = None

    @classmethod
    def open(cls):
        fd, path = tempfile.mkstemp(prefix="emb-spark-", suffix=".log")
        os.unlink(path)
        cls.file = os.fdopen(fd, "w+b")
        return cls.file

    @classmethod
    def _read(cls, start: int = 0) -> bytes:
        if cls.file is None:
            return b""
        fd = cls.file.fileno()
        size = os.fstat(fd).st_size
        return os.pread(fd, max(0, size - start), start)

    @classmethod
    def hint(cls) -> str:
        if cls.file is None:
            return ""
        try:
            fd, cls.path = tempfile.mkstemp(prefix="emb-spark-", suffix=".log")
            with os.fdopen(fd, "wb") as out:
                out.write(cls._read())
        except OSError:
            return ""
        return f" (Spark's log: {cls.path}; --verbose shows it)"

    @classmethod
    def tail(cls, n: int = 4000) -> str:
        try:
            size = os.fstat(cls.file.fileno()).st_size if cls.file is not None else 0
            return cls._read(max(0, size - n)).decode("utf-8", "replace")
        except OSError:
            return ""


def get_session(options: SparkOptions):
    """The running SparkSession, or a new one started from ``options``."""
    pyspark = require("pyspark", extra="spark", feature="the Spark engine")
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    active = SparkContext._active_spark_context
    if active is not None:
        if options.master is not None and options.master != active.master:
            raise UsageError(
                f"Spark already runs in this process with master {active.master}: drop --master {options.master}"
            )
        return SparkSession.getActiveSession() or SparkSession(active)
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # inside spark-submit: its JVM and master
    if not submitted:
        check_java()
    master = options.master
    if master is None and not submitted:
        master = DEFAULT_MASTER
    if master is not None:
        check_reachable(master)
    conf = SparkConf(loadDefaults=True).setAppName("emb")
    if master is not None:
        conf.setMaster(master)
    # No console progress bar (emb shows its own); no web UI on this machine (on a cluster it helps).
    quiet = [("spark.ui.showConsoleProgress", "false")]
    if (master or "").startswith("local"):
        quiet.append(("spark.ui.enabled", "false"))
    for key, value in quiet:
        if not conf.contains(key):
            conf.set(key, value)
    if master == "yarn":
        # A resource manager that does not answer: give up after a minute, not Hadoop's 15.
        for key, value in (("spark.hadoop.yarn.resourcemanager.connect.max-wait.ms", "60000"),
                           ("spark.hadoop.yarn.resourcemanager.connect.retry-interval.ms", "10000")):
            if not conf.contains(key):
                conf.set(key, value)
    for key, value in options.conf.items():
        conf.set(key, value)
    if (master or "").startswith("local"):
        # Local Python workers run this interpreter (its packages, emb among them), not python3 on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    gateway = None
    try:
        if not submitted:
            from pyspark.java_gateway import launch_gateway

            kwargs = {}
            if not options.show_logs:
                log = _Log.open()
                kwargs = {"stdout": log, "stderr": log}
            gateway = launch_gateway(conf, popen_kwargs=kwargs)
        sc = SparkContext(conf=conf, gateway=gateway)
    except EmbError:
        raise
    except Exception as exc:
        raise _start_error(exc, master) from None
    if not options.show_logs:
        sc.setLogLevel("ERROR")
    if not (master or sc.master).startswith("local"):
        _ship_package(sc)
    del pyspark
    return SparkSession(sc)


def _start_error(exc: Exception, master: str | None) -> EmbError:
    text = _Log.tail() + "\n" + str(exc)
    if "UnsupportedClassVersionError" in text or "class file version" in text:
        return TrainingError(f"the Java runtime is too old for this Spark: {JAVA_FIX}")
    if "Could not parse Master URL" in text:
        return UsageError(f"--master {master!r} is not a Spark master URL: use local[*], local[N] or spark://HOST:PORT")
    reason = _jvm_reason(_Log.tail())
    if reason:  # Spark's own words ("Asked to run locally with 0 threads"), not Py4J's
        return TrainingError(f"Spark did not start: {reason}{_Log.hint()}")
    first = _first_line(str(exc))
    return TrainingError(f"Spark did not start ({first}){_Log.hint()}")


def _jvm_reason(log: str) -> str | None:
    """The message of the first Java exception in Spark's log (``...SparkException: Executor memory
    must be a positive number``), or None."""
    import re

    found = re.search(r"(?m)\b(?:org\.apache\.spark\.|java\.lang\.)[\w.$]*(?:Exception|Error): (.+)$", log)
    return found.group(1).strip()[:300] if found else None


def _ship_package(sc) -> None:
    """Send emb's own package to the executors of a cluster (they need its tokenizer)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    folder = tempfile.mkdtemp(prefix="emb-spark-py-")
    atexit.register(shutil.rmtree, folder, True)
    archive = shutil.make_archive(os.path.join(folder, "embcli"), "zip", os.path.dirname(root), "embcli")
    sc.addPyFile(archive)


def spark_version(spark) -> str:
    return str(spark.version)


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return "no message"


_PY_ERROR = re.compile(r"embcli\.errors\.(\w+): (.+)")
_JAVA_ERROR = re.compile(r"^(?:\S+\.)?(\w+(?:Exception|Error)): (.+)$", re.M)


def _error_classes() -> dict[str, type]:
    found, todo = {}, [EmbError]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return found


def job_error(exc: BaseException) -> EmbError:
    """One ``EmbError`` for a failed Spark job: emb's own error raised in a task keeps its class and
    message; a path Spark cannot read is a ``CorpusError``; anything else names its first line."""
    text = str(exc)
    found = _PY_ERROR.findall(text)
    if found:
        name, message = found[-1]
        cls = _error_classes().get(name, TrainingError)
        if cls is MissingExtraError:
            cls = TrainingError
        return cls(message.strip())
    low = text.lower()
    if "path_not_found" in low or "path does not exist" in low or "filenotfoundexception" in low:
        match = re.search(r"(?:Path does not exist|PATH_NOT_FOUND\]?[^:]*):\s*(\S+)", text)
        where = match.group(1).rstrip(".") if match else "an input"
        return CorpusError(f"{where}: Spark cannot find it: check the path")
    if "accessdeniedexception" in low or "permission denied" in low:
        return CorpusError(f"Spark cannot read an input ({_first_line(text)}): check its permissions")
    java = _JAVA_ERROR.findall(text)
    detail = f"{java[0][0]}: {java[0][1]}" if java else _first_line(text)
    return TrainingError(f"the Spark job failed: {detail[:300]}{_Log.hint()}")


class _Job:
    """What ``spark_job`` yields: ``local()`` marks work of the driver's own (no Spark call), where
    Ctrl-C raises at once."""

    in_local = False

    @contextmanager
    def local(self):
        self.in_local = True
        try:
            yield
        finally:
            self.in_local = False


@contextmanager
def spark_job(spark, on_progress=None) -> Iterator[_Job]:
    """Run Spark work: progress from the status tracker in a thread, failures as ``EmbError``,
    and Ctrl-C cancelling the running jobs, then raising ``KeyboardInterrupt``.

    PySpark's own Ctrl-C handler cancels from inside the interrupted call to the JVM, which py4j
    reports with tracebacks on stderr; here the jobs are cancelled from another thread, so the
    waiting call returns, and the interrupt is raised once it has.
    """
    sc = spark.sparkContext
    stop = threading.Event()
    interrupted = threading.Event()
    job = _Job()
    thread = None
    if on_progress is not None:
        thread = threading.Thread(target=_poll, args=(sc, on_progress, stop), daemon=True)
        thread.start()
    previous = None
    if threading.current_thread() is threading.main_thread():

        def on_interrupt(signum, frame):
            if interrupted.is_set() or job.in_local:  # a second Ctrl-C, or work of our own: at once
                raise KeyboardInterrupt
            interrupted.set()
            threading.Thread(target=_cancel, args=(sc, stop), daemon=True).start()

        previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield job
        if interrupted.is_set():
            raise KeyboardInterrupt
    except EmbError:
        if interrupted.is_set():
            raise KeyboardInterrupt from None
        _cancel(sc)
        raise
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if interrupted.is_set() or _interrupted(exc):
            raise KeyboardInterrupt from None
        if not _is_spark_error(exc):
            raise
        _cancel(sc)
        raise job_error(exc) from None
    finally:
        stop.set()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if thread is not None:
            thread.join()


def _cancel(sc, done: threading.Event | None = None) -> None:
    """Cancel Spark's jobs. With ``done``: again every half second (a job may start after the first
    cancel) until the main thread has stopped, and if it has not within CANCEL_WAIT (it runs Python
    code of its own, not waiting for Spark), interrupt it."""
    deadline = time.monotonic() + CANCEL_WAIT
    while True:
        try:
            sc.cancelAllJobs()
        except Exception:  # the context is already gone
            pass
        if done is None or done.wait(0.5):
            return
        if time.monotonic() > deadline:
            import _thread

            _thread.interrupt_main()
            return


def _interrupted(exc: BaseException) -> bool:
    return "KeyboardInterrupt" in type(exc).__name__


def _is_spark_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("py4j", "pyspark"))


def _poll(sc, on_progress, stop: threading.Event) -> None:
    """Report the active stages' tasks (done, total) until ``stop`` is set."""
    tracker = sc.statusTracker()
    last = None
    while not stop.wait(POLL_SECONDS):
        try:
            ids = sorted(tracker.getActiveStageIds())
            stages = [tracker.getStageInfo(i) for i in ids]
        except Exception:  # the context is stopping: nothing more to report
            return
        stages = [s for s in stages if s is not None]
        if not stages:
            continue
        done = sum(s.numCompletedTasks for s in stages)
        total = sum(s.numTasks for s in stages)
        name = stages[0].name.split(" at ")[0]
        if name.startswith("$") or not name:
            name = "job"
        now = (ids[0], done, total)
        if now != last:
            last = now
            on_progress("spark", done, total, {"stage": ids[0], "name": name, "active_tasks": sum(s.numActiveTasks for s in stages)})
