"""One line per pipeline step on the console; the full logs go to a file.

LocalDagRunner, Beam and TensorFlow log thousands of lines per run. The local
runner sends all of them to a log file and shows a person only this: each
component starting and finishing (or being reused from the cache), and the
Trainer's loss as it trains. It also knows which component is running, so
that a failure can be named after it.
"""
import errno
import logging
import re
import sys
import time
from typing import Dict, List, Optional, TextIO

_RUNNING = re.compile(r"^Component (\S+) is running\.$")
_FINISHED = re.compile(r"^Component (\S+) is finished\.$")
_CACHED = re.compile(r"^A cached execution \d+ is used\.$")
_TRAIN_LOSS = re.compile(r"^loss = ([-\d.e+]+), step = (\d+)")
_TRAIN_PLAN = re.compile(r"^Training wide-and-deep: .*")


class ProgressHandler(logging.Handler):
    """A logging handler that prints component progress lines."""

    def __init__(self, components: List[str], stream: TextIO = sys.stdout):
        super().__init__(level=logging.INFO)
        self._order: Dict[str, int] = {
            name: i + 1 for i, name in enumerate(components)}
        self._stream = stream
        self._current: Optional[str] = None
        self._started = 0.0
        self._cached = False

    @property
    def running(self) -> Optional[str]:
        """The component that started and has not finished: after a failed
        run, the one that failed."""
        return self._current

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return
        if match := _RUNNING.match(message):
            self._start(match.group(1))
        elif match := _FINISHED.match(message):
            self._finish(match.group(1))
        elif _CACHED.match(message):
            self._cached = True
        elif self._current and (match := _TRAIN_LOSS.match(message)):
            self._print(f"      {self._current}: step {match.group(2)}, "
                        f"loss {float(match.group(1)):.4f}")
        elif self._current and _TRAIN_PLAN.match(message):
            self._print(f"      {self._current}: {message}")

    def _start(self, component: str) -> None:
        self._current, self._started, self._cached = component, time.time(), False
        self._print(f"{self._prefix(component)} {component} ...")

    def _finish(self, component: str) -> None:
        how = "reused from cache" if self._cached else "done"
        self._print(f"{self._prefix(component)} {component} {how} "
                    f"({time.time() - self._started:.1f} s)")
        self._current = None

    def _prefix(self, component: str) -> str:
        return f"[{self._order.get(component, 0):2d}/{len(self._order)}]"

    def _print(self, line: str) -> None:
        print(line, file=self._stream, flush=True)


class LogFileHandler(logging.FileHandler):
    """The log file; on a full disk it drops records silently, instead of
    printing a traceback per record on the console: the run's own error
    says that the disk is full."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return
        super().handleError(record)


def route_logs(log_path: str, components: List[str]) -> ProgressHandler:
    """Sends every log record to log_path and progress lines to stdout."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = LogFileHandler(log_path)
    file_handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    progress = ProgressHandler(components)
    root.addHandler(file_handler)
    root.addHandler(progress)
    root.setLevel(logging.INFO)
    # absl and TensorFlow keep their own handlers; route them through root.
    for name in ("absl", "tensorflow"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(logging.INFO)
    # TFX reports components through absl at INFO, but a library imported
    # mid-run (tensorboard's global_init) lowers absl to WARNING: pin it.
    logging.getLogger("absl").setLevel = lambda level: None
    return progress
