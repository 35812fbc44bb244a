"""Publishing a SavedModel as a new serving version, all or nothing.

TF Serving (and anything reading `<base>/<version>/`) loads the highest
numeric version directory. A version is therefore written under a name no
reader takes for a version (STAGING_PREFIX + version, beside the target, on
the same filesystem), checked to load, and only then renamed to its number:
a crash, a full disk or a model that does not load leave the served
versions as they were. Leftovers of an earlier failure (a staging folder, or
a numeric version whose saved_model.pb does not parse, written by a
non-atomic copy) are removed before the next push and reported.
"""
import dataclasses
import json
import os
import time
from typing import Callable, List, Optional, Sequence

from absl import logging
from tfx.dsl.io import fileio
from tfx.utils import io_utils

STAGING_PREFIX = ".partial-"
# Which pipeline model a version came from, inside the version itself
# (assets.extra/ is where SavedModel readers expect extra files).
PROVENANCE_FILE = os.path.join("assets.extra", "pushed_from.json")


class PushError(RuntimeError):
    """The model could not be published; the served versions are unchanged."""


@dataclasses.dataclass(frozen=True)
class PushResult:
    version: int
    path: str
    # True: this model was already served as `version`; nothing was copied.
    already_served: bool
    # Leftovers of earlier failed pushes, removed before this one.
    removed: List[str]


def push_model(model_path: str, base_directory: str, model_uri: str,
               check_loads: Callable[[str], None],
               now: Optional[float] = None) -> PushResult:
    """Publishes model_path as base_directory/<new version> atomically."""
    fileio.makedirs(base_directory)
    removed = remove_leftovers(base_directory)
    served = served_version_of(base_directory, model_uri)
    if served is not None:
        return PushResult(served, _join(base_directory, served), True,
                          removed)
    version = next_version(base_directory, time.time() if now is None
                           else now)
    staging = os.path.join(base_directory, f"{STAGING_PREFIX}{version}")
    target = _join(base_directory, version)
    try:
        copy_model(model_path, staging)
        io_utils.write_string_file(os.path.join(staging, PROVENANCE_FILE),
                                   json.dumps({"model_uri": model_uri}))
        check_loads(staging)
        # On a local or POSIX filesystem, a rename is atomic: readers see
        # no version or the whole one. (Object stores such as GCS rename by
        # copying; the staging name still keeps readers off a partial one.)
        fileio.rename(staging, target)
    except Exception:
        _remove_quietly(staging)
        raise
    return PushResult(version, target, False, removed)


def copy_model(source: str, destination: str) -> None:
    """Copies the SavedModel folder (a seam for fault-injection tests)."""
    io_utils.copy_dir(source, destination)


def served_versions(base_directory: str) -> List[int]:
    """Numeric version folders, as TF Serving lists them, ascending."""
    if not fileio.isdir(base_directory):
        return []
    return sorted(int(name.rstrip("/")) for name in
                  fileio.listdir(base_directory)
                  if name.rstrip("/").isdigit())


def next_version(base_directory: str, now: float) -> int:
    """A Unix-time version (TFX Pusher's scheme) above every served one, so
    the new model is the one TF Serving loads."""
    return max([int(now)] + [v + 1 for v in served_versions(base_directory)])


def remove_leftovers(base_directory: str) -> List[str]:
    """Removes staging folders and versions whose saved_model.pb does not
    parse; returns what it removed (for the log and the PushedModel)."""
    removed = []
    for name in sorted(fileio.listdir(base_directory)):
        name = name.rstrip("/")
        path = os.path.join(base_directory, name)
        if name.startswith(STAGING_PREFIX) or (
                name.isdigit() and not is_complete(path)):
            logging.warning("Pusher: removing %s, left by an earlier push "
                            "that did not finish", path)
            fileio.rmtree(path)
            removed.append(path)
    return removed


def is_complete(version_dir: str) -> bool:
    """Whether the version's saved_model.pb is present and parses."""
    from tensorflow.core.protobuf import saved_model_pb2
    path = os.path.join(version_dir, "saved_model.pb")
    if not fileio.exists(path):
        return False
    try:
        saved_model_pb2.SavedModel().ParseFromString(
            io_utils.read_bytes_file(path))
    except Exception:  # pylint: disable=broad-except  # DecodeError et al.
        return False
    return True


def served_version_of(base_directory: str, model_uri: str) -> Optional[int]:
    """The version TF Serving loads (the highest), if pushed from
    model_uri. (An older version of the same model is not served: pushing
    it again makes it the highest.)"""
    versions = served_versions(base_directory)
    if not versions:
        return None
    path = os.path.join(_join(base_directory, versions[-1]), PROVENANCE_FILE)
    if fileio.exists(path) and json.loads(io_utils.read_string_file(
            path)).get("model_uri") == model_uri:
        return versions[-1]
    return None


def check_loads(saved_model_dir: str, signatures: Sequence[str]) -> None:
    """Loads the SavedModel as a server would; raises PushError naming what
    is missing or broken."""
    import tensorflow as tf
    try:
        loaded = tf.saved_model.load(saved_model_dir)
    except Exception as error:  # pylint: disable=broad-except
        raise PushError(f"the model copied to {saved_model_dir} does not "
                        f"load: {type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''}"
                        ) from error
    missing = sorted(set(signatures) - set(loaded.signatures))
    if missing:
        raise PushError(f"the model copied to {saved_model_dir} lacks the "
                        f"signature(s) {missing}; it has "
                        f"{sorted(loaded.signatures)}")


def _join(base_directory: str, version: int) -> str:
    return os.path.join(base_directory, str(version))


def _remove_quietly(path: str) -> None:
    try:
        if fileio.exists(path):
            fileio.rmtree(path)
    except Exception:  # pylint: disable=broad-except  # report the first error
        logging.warning("Pusher: could not remove %s; the next push will",
                        path)
