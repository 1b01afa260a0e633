"""A background thread that runs a pass every few seconds, for ``troth serve``: mail delivery,
and the children's consent window sweep (``name`` says which, in logs and the thread's name)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0


class DeliveryLoop:
    """Calls ``run_pass`` at once and then every ``interval`` seconds until stopped.

    A pass that raises is logged by its exception's type only (its message can quote a database
    value) and the loop goes on: the next pass tries again.
    """

    def __init__(
        self,
        run_pass: Callable[[], object],
        interval: float = DEFAULT_INTERVAL,
        *,
        name: str = "mail delivery",
    ) -> None:
        self._run_pass = run_pass
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"the {self.name} loop is already running")
        thread_name = "troth-" + self.name.replace(" ", "-")
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the pass in progress, if any; wait for it up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._run_pass()
            except Exception as exc:
                log.error("a %s pass failed (%s); trying again", self.name, type(exc).__name__)
            self._stop.wait(self.interval)
