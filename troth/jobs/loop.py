"""A background thread that runs worker passes every few seconds: ``troth serve``'s in-process
worker, and the body of ``troth worker``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0


class WorkerLoop:
    """Calls ``run_pass`` at once and then every ``interval`` seconds until stopped.

    A pass that raises is logged by its exception's type only (its message can quote a database
    value) and the loop goes on.
    """

    def __init__(self, run_pass: Callable[[], object], interval: float = DEFAULT_INTERVAL) -> None:
        self._run_pass = run_pass
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the worker loop is already running")
        self._thread = threading.Thread(target=self.run, name="troth-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the pass in progress, if any; wait for it up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        """Run passes in this thread until :meth:`stop` is called from another."""
        while not self._stop.is_set():
            try:
                self._run_pass()
            except Exception as exc:
                log.error("a worker pass failed (%s); trying again", type(exc).__name__)
            self._stop.wait(self.interval)
