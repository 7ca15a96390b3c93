"""The stderr console, progress display and one-line messages, shared by all commands."""

from __future__ import annotations

import sys
import time

STATE = {"quiet": False}


def quiet() -> bool:
    return STATE["quiet"]


def set_quiet(flag: bool) -> None:
    """A command's own -q/--quiet: the same as the root option given before the command."""
    if flag:
        STATE["quiet"] = True


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    """A warning on stderr, one line, unless --quiet."""
    if not quiet():
        sys.stderr.write(f"emb: warning: {message}\n")
        sys.stderr.flush()


def info(message: str) -> None:
    """A line of information on stderr, unless --quiet."""
    if not quiet():
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_count(n: float) -> str:
    for unit in ("", "k", "M", "G"):
        if abs(n) < 1000 or unit == "G":
            return f"{n:.0f}{unit}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}G"


def _if_total_known(column):
    """``column`` shown only while a task's total is known: reading stdin has no percentage and no
    ETA, only what was done, its rate and the time spent."""
    from rich.text import Text

    render = column.render
    column.render = lambda task: render(task) if task.total is not None else Text("")
    return column


class StderrProgress:
    """A rich progress display on stderr, shown only when stderr is a terminal and --quiet is off.

    Bars show description, percentage, a ``rate`` field, elapsed time and ETA; subclasses turn the
    library's progress callbacks into updates of ``self.progress``.
    """

    transient = False

    def __init__(self):
        self.enabled = sys.stderr.isatty() and not quiet()
        self.progress = None
        self.started = time.perf_counter()

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                _if_total_known(TextColumn("{task.percentage:>3.0f}%")),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                _if_total_known(TextColumn("ETA")),
                _if_total_known(TimeRemainingColumn()),
                console=stderr_console(),
                transient=self.transient,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
        return False


class TrainProgress(StderrProgress):
    """Progress for ``emb train``: the tokenizing pass, then the epochs.

    gensim reports only at epoch ends, so within an epoch the bar shows elapsed time and an ETA
    from the epochs done so far. From stdin the tokenizing total is unknown: the bar shows bytes
    and lines read and their rates, with no percentage or ETA.
    """

    def __init__(self):
        super().__init__()
        self.tok_task = None
        self.train_task = None
        self.spark_task = None
        self.tokens = 0

    def words_per_second(self, epochs_done: float, now: float) -> float:
        """The summary's measure (corpus tokens x epochs done / training time), whatever engine
        trains; an engine's own rate (gensim counts words after subsampling) would disagree."""
        spent = now - self.train_started
        return self.tokens * epochs_done / spent if spent > 0 and self.tokens else 0.0

    def __call__(self, stage: str, done: float, total: float | None, info: dict) -> None:
        if self.progress is None:
            return
        now = time.perf_counter()
        if stage == "tokenize":
            if self.tok_task is None:
                self.tok_started = now
                self.tok_task = self.progress.add_task("tokenizing", total=total, rate="")
            spent = max(now - self.tok_started, 1e-9)
            self.tokens = info.get("tokens", 0)
            lines = human_count(info.get("lines", 0))
            if total is None:
                # stdin: no total, so no percentage; say how much was read and how fast.
                rate = f"{lines} lines {human_count(self.tokens)} tokens, {human_count(self.tokens / spent)} tokens/s"
                if done:
                    rate = f"{human_bytes(done)} " + rate
            else:
                rate = (
                    f"{human_bytes(done / spent)}/s {human_count(info.get('lines', 0) / spent)} lines/s "
                    f"{human_count(self.tokens / spent)} tokens/s"
                )
            self.progress.update(self.tok_task, completed=done, total=total, rate=rate)
        elif stage == "spark":
            # Spark's stages one after the other: the tasks of the stage running now.
            description = f"spark stage {info.get('stage', '')}"
            if getattr(self, "spark_task", None) is None:
                self.spark_task = self.progress.add_task(description, total=total, rate="")
            self.progress.update(self.spark_task, description=description, completed=done, total=total,
                                 rate=f"{info.get('name', '')} {int(done)}/{int(total or 0)} tasks")
        elif stage == "train":
            if self.tok_task is not None:
                task = self.progress.tasks[self.tok_task]
                if task.total is not None:
                    self.progress.update(self.tok_task, completed=task.total)
                elif task.stop_time is None:
                    self.progress.stop_task(self.tok_task)  # done reading stdin: its clock stops
            if self.train_task is None:
                self.train_started = now
                self.train_task = self.progress.add_task("training", total=total, rate="")
            self.epochs = (done, total, info.get("cost"))
            self._show_rate(self.words_per_second(done, now))

    def _show_rate(self, wps: float) -> None:
        done, total, cost = self.epochs
        rate = f"epoch {int(done)}/{int(total or 0)}" + (f" {human_count(wps)} words/s" if wps else "")
        if cost is not None:
            rate += f" cost {cost:.4f}"
        self.progress.update(self.train_task, completed=done, rate=rate)

    def finish(self, result) -> None:
        """Show the run's own figure at the end, so the bar and the summary line agree exactly."""
        if self.progress is None or result is None:
            return
        if self.tok_task is not None and self.progress.tasks[self.tok_task].total is None:
            # Reading stdin was reported as it went; show the final count the summary gives.
            spent = max(result.tokenize_seconds, 1e-9)
            rate = (f"{human_count(result.lines)} lines {human_count(result.tokens)} tokens,"
                    f" {human_count(result.tokens / spent)} tokens/s")
            self.progress.update(self.tok_task, rate=rate)
        if self.train_task is not None:
            self._show_rate(result.words_per_second)
