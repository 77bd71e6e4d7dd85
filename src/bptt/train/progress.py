"""Training progress: a rich progress bar on a terminal, plain periodic lines otherwise.

On a terminal (as rich's Console sees it) the bar shows the update count, loss, gradient norm,
rate and time left, and messages print above it. Anywhere else (a file, a pipe, a test's
StringIO) every ``every``-th update and the last one print one line:

    step 250/1500  loss 1.8423  grad-norm 0.412  9.8 upd/s  ETA 2m07s
"""

from __future__ import annotations

import math
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar


class Progress:
    """Progress of a run from update ``start`` to ``total``; use it as a context manager.

    Args:
        total: the last update of the run.
        start: the update the run starts from (resumed runs start past 0).
        stream: where progress goes (a terminal gets the bar).
        every: updates between plain lines when ``stream`` is not a terminal.
    """

    def __init__(self, total: int, start: int, stream: TextIO, every: int) -> None:
        self.total, self.start, self.stream, self.every = total, start, stream, every
        self.console = Console(file=stream)
        self.tty = self.console.is_terminal
        self.t0 = time.perf_counter()
        self.bar: Bar | None = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.tty:
            self.bar = Bar(
                TextColumn("step"),
                MofNCompleteColumn(),
                BarColumn(bar_width=30),
                TextColumn("loss {task.fields[loss]:.4f}  grad-norm {task.fields[grad_norm]:.3g}"),
                TextColumn("{task.fields[rate]:.1f} upd/s"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self._task = self.bar.add_task(
                "train",
                total=self.total,
                completed=self.start,
                loss=math.nan,
                grad_norm=math.nan,
                rate=0.0,
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def _rate(self, step: int) -> float:
        elapsed = time.perf_counter() - self.t0
        return (step - self.start) / elapsed if elapsed > 0 else 0.0

    def update(self, step: int, loss: float, grad_norm: float) -> None:
        """Show update ``step`` and its loss and gradient norm."""
        rate = self._rate(step)
        if self.bar is not None:
            self.bar.update(self._task, completed=step, loss=loss, grad_norm=grad_norm, rate=rate)
            return
        if step % self.every and step != self.total:
            return
        eta = (self.total - step) / rate if rate > 0 else math.inf
        eta_text = f"{int(eta // 60)}m{int(eta % 60):02d}s" if math.isfinite(eta) else "?"
        self._line(
            f"step {step}/{self.total}  loss {loss:.4f}  grad-norm {grad_norm:.3g}  "
            f"{rate:.1f} upd/s  ETA {eta_text}"
        )

    def message(self, text: str) -> None:
        """A line of its own (an evaluation, a skipped update, a stop), above the bar."""
        if self.bar is not None:
            self.bar.refresh()  # the bar printed below the message shows the latest update
            self.console.print(text, markup=False, highlight=False)
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
