"""A background thread that does one pass of work every so often, keeping the last error for /health."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class Periodic:
    """Runs ``step`` every ``interval`` seconds (the first one interval after start) until stopped."""

    def __init__(self, *, name: str, interval: float, step: Callable[[], None]) -> None:
        self._interval, self._step, self._name = interval, step, name
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"loopline-{name}", daemon=True)
        self.last_error: BaseException | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the pass under way, if any."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._step()
                self.last_error = None
            except Exception as error:  # the platform keeps running; /health reports it
                self.last_error = error
                log.exception(f"{self._name}_failed")
