"""The real MovieLens-100K, offline-friendly, from the RecBole wheel on PyPI.

GroupLens' own site is not reachable from every machine, but PyPI is, and
the wheel recbole==1.2.1 ships ml-100k as RecBole atomic files. This module
downloads that wheel with pip (no dependencies, no torch), checks its
SHA-256, extracts only `ml-100k.inter` and `ml-100k.item`, parses them with
the RecBole parser and writes, under `dest`:

* `<dest>/ml-100k/ratings.csv` - the pipeline CSV (100,000 ratings, 943
  users, 1,682 items), alone in its directory for CsvExampleGen;
* `<dest>/ml-100k-items.csv` - item_id,title,genres for printing and
  serving recommendations (output.items_csv_path of the dataset directory).

Both are written atomically; when both exist, `fetch_ml100k` returns at once
without downloading (delete them to refetch).
"""
import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple, Optional

from movielens_data.errors import DataError, PathLike
from movielens_data.output import (RATINGS_FILE_NAME, items_csv_path,
                                   write_items_csv, write_pipeline_csv)
from movielens_data.parsers import MovieLensData, load_movielens
from movielens_data.tables import require_file

logger = logging.getLogger(__name__)

RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL_SHA256 = (
    "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407")
DATASET_NAME = "ml-100k"
_MEMBER_DIR = "recbole/dataset_example/ml-100k/"
WHEEL_MEMBERS = (_MEMBER_DIR + "ml-100k.inter", _MEMBER_DIR + "ml-100k.item")


class DownloadError(RuntimeError):
    """pip could not download the wheel (network, index, pip missing)."""


class Ml100kFiles(NamedTuple):
    ratings_csv: Path
    items_csv: Path
    created: bool  # False when both files were already there


def ml100k_paths(dest: PathLike) -> Ml100kFiles:
    """Where `fetch_ml100k` puts its files under `dest`."""
    dataset_dir = Path(dest) / DATASET_NAME
    return Ml100kFiles(dataset_dir / RATINGS_FILE_NAME,
                       items_csv_path(dataset_dir), created=False)


def download_recbole_wheel(directory: PathLike) -> Path:
    """Download the recbole wheel into `directory` with pip; its path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps",
               "--only-binary=:all:", "--disable-pip-version-check",
               RECBOLE_REQUIREMENT, "-d", str(directory)]
    logger.info("downloading %s with pip", RECBOLE_REQUIREMENT)
    result = subprocess.run(command, capture_output=True, text=True,
                            check=False)
    wheels = sorted(Path(directory).glob("recbole-*.whl"))
    if result.returncode != 0 or not wheels:
        raise DownloadError(
            f"pip download {RECBOLE_REQUIREMENT} failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    return wheels[0]


def sha256_of(path: PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: PathLike, expected: str) -> None:
    """Refuse a file whose SHA-256 differs from `expected`."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise DataError(path, f"SHA-256 is {actual}, expected {expected}; "
                        "refusing to use this file")


def extract_dataset(wheel: PathLike, folder: PathLike) -> None:
    """Extract only WHEEL_MEMBERS from `wheel`, flat into `folder`."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            for member in WHEEL_MEMBERS:
                if member not in names:
                    raise DataError(wheel, f"{member} not found in wheel")
                # Read by exact name and write under our own file name, so
                # no path from the archive reaches the filesystem.
                target = Path(folder) / member.rsplit("/", 1)[1]
                target.write_bytes(archive.read(member))
    except zipfile.BadZipFile as error:
        raise DataError(wheel, f"not a wheel (zip) file: {error}") from None


def _load_from_wheel(folder: Path, wheel: PathLike) -> MovieLensData:
    """Parse the extracted files; errors name the wheel member, not the
    temporary copy (which is gone by the time anyone reads the message)."""
    try:
        return load_movielens(folder)
    except DataError as error:
        member = _MEMBER_DIR + Path(error.path).name
        raise DataError(f"{wheel}!{member}", error.message, error.line,
                        error.column) from None


def fetch_ml100k(dest: PathLike, wheel: Optional[PathLike] = None,
                 expected_sha256: str = RECBOLE_WHEEL_SHA256) -> Ml100kFiles:
    """Write MovieLens-100K under `dest` (see module doc); cached.

    `wheel`: an already downloaded recbole wheel (default: download one).
    `expected_sha256`: the checksum `wheel` must have; tests pass the one
    of a small fake wheel.
    """
    paths = ml100k_paths(dest)
    if paths.ratings_csv.is_file() and paths.items_csv.is_file():
        logger.info("%s already present, not fetching", paths.ratings_csv)
        return paths
    with tempfile.TemporaryDirectory(prefix="recbole-") as temp:
        if wheel is None:
            wheel = download_recbole_wheel(temp)
        require_file(wheel)
        verify_sha256(wheel, expected_sha256)
        folder = Path(temp) / DATASET_NAME
        folder.mkdir()
        logger.info("extracting %s from %s", DATASET_NAME, wheel)
        extract_dataset(wheel, folder)
        data = _load_from_wheel(folder, wheel)
    # Items first: the ratings file is what marks the cache complete.
    write_items_csv(data.items, paths.items_csv)
    write_pipeline_csv(data.ratings, paths.ratings_csv.parent)
    return paths._replace(created=True)
