"""One live progress line for long trainings (both paths of ``multirun.repeated_runs``).

In a Jupyter session the line is a display that is updated in place; in a terminal it is
rewritten with a carriage return. When a notebook is executed to build the book (nbclient), the
updates replace the stored output, so the built page keeps only the last state: one line, not a
bar per epoch. Anywhere else (output captured, a pipe) nothing is shown until the end.
"""

from __future__ import annotations

import sys
import time


def _kernel_display():
    """``IPython.display.display`` when running inside a Jupyter kernel, else ``None``."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return None
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    ip = get_ipython()
    return display if ip is not None and getattr(ip, "kernel", None) is not None else None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class Progress:
    """A live line "<what>: epoch e/E, step s/S, <elapsed>, about <left> left".

    ``enabled=False`` (or no display to update) makes every call a no-op; :meth:`finish` leaves the
    final text in place of the live line (in a notebook) or on its own line (in a terminal).
    """

    def __init__(self, what: str, epochs: int, steps: int, enabled: bool = True):
        self.what, self.epochs, self.steps = what, epochs, steps
        self.start = time.perf_counter()
        self._handle = None
        self._tty = False
        self._last = 0.0
        if not enabled:
            return
        display = _kernel_display()
        if display is not None:
            self._handle = display({"text/plain": f"{what}: starting"}, raw=True, display_id=True)
        elif hasattr(sys.stdout, "isatty") and sys.stdout.isatty():
            self._tty = True

    @property
    def live(self) -> bool:
        return self._handle is not None or self._tty

    def _show(self, text: str, final: bool = False) -> None:
        if self._handle is not None:
            self._handle.update({"text/plain": text}, raw=True)
        elif self._tty:
            sys.stdout.write("\r" + text.ljust(79) + ("\n" if final else ""))
            sys.stdout.flush()

    def update(self, epoch: int, step: int) -> None:
        """After ``step`` of ``steps`` steps of epoch ``epoch`` (1-based) are done."""
        if not self.live:
            return
        now = time.perf_counter()
        done = ((epoch - 1) * self.steps + step) / (self.epochs * self.steps)
        if now - self._last < 0.5 and done < 1:
            return
        self._last = now
        elapsed = now - self.start
        left = f", about {_duration(elapsed * (1 - done) / done)} left" if 0 < done < 1 else ""
        self._show(
            f"{self.what}: epoch {epoch}/{self.epochs}, step {step}/{self.steps}, " f"{_duration(elapsed)}{left}"
        )

    def finish(self, text: str) -> bool:
        """Show ``text`` as the final state; True when it was shown (so it need not be printed)."""
        if not self.live:
            return False
        self._show(text, final=True)
        return True
