"""One run at a time per pipeline: an exclusive lock beside the metadata store.

Two LocalDagRunner runs on the same pipeline root would both write the same
SQLite store and the same serving directory; the second run is refused
instead. The lock is an flock on a file, so the kernel releases it when the
holder exits for any reason, SIGKILL included: a crashed run never leaves a
stale lock behind.
"""
import contextlib
import fcntl
import os
import time
from typing import Iterator

LOCK_FILE = "run.lock"


class PipelineBusyError(RuntimeError):
    """Another run of the same pipeline holds the lock."""


@contextlib.contextmanager
def exclusive_run(lock_dir: str, pipeline_name: str) -> Iterator[None]:
    """Holds the pipeline's run lock for the duration of the block.

    Raises PipelineBusyError, naming the holder's pid and start time, when
    another process holds it.
    """
    os.makedirs(lock_dir, exist_ok=True)
    path = os.path.join(lock_dir, LOCK_FILE)
    # "a+" neither truncates the holder's note nor fails if the file exists.
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown process"
            raise PipelineBusyError(
                f"pipeline '{pipeline_name}' is already running ({holder}; "
                f"lock {path}). Wait for it to finish, or use another "
                f"--output-root or --pipeline-name.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
