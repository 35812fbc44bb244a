"""fetch_ml100k with a tiny fake recbole wheel built here (no downloads)."""
import hashlib
import subprocess
import zipfile

import pytest

import movielens_data.recbole as recbole
from movielens_data.errors import DataError
from movielens_data.recbole import (RECBOLE_WHEEL_SHA256, DownloadError,
                                    fetch_ml100k)

INTER = ("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
         "196\t242\t3\t881250949\n"
         "186\t302\t3\t891717742\n"
         "22\t242\t1\t878887116\n")
ITEM = ("item_id:token\tmovie_title:token_seq\trelease_year:token\t"
        "class:token_seq\n"
        "242\tKolya\t1996\tComedy\n"
        "302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n")
MEMBER_DIR = "recbole/dataset_example/ml-100k/"


def make_wheel(path, members=None):
    members = members if members is not None else {
        MEMBER_DIR + "ml-100k.inter": INTER,
        MEMBER_DIR + "ml-100k.item": ITEM,
        MEMBER_DIR + "ml-100k.user": "not needed\n",
        "recbole/__init__.py": ""}
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    def refuse(directory):
        raise AssertionError("tests must not download")
    monkeypatch.setattr(recbole, "download_recbole_wheel", refuse)


def test_checksum_mismatch_is_refused(tmp_path):
    wheel, _ = make_wheel(tmp_path / "fake.whl")
    with pytest.raises(DataError) as caught:
        fetch_ml100k(tmp_path / "data", wheel=wheel)
    assert caught.value.path == str(wheel)
    assert f"expected {RECBOLE_WHEEL_SHA256}" in str(caught.value)
    assert "refusing" in str(caught.value)
    assert not (tmp_path / "data").exists()


def test_fetch_converts_and_caches(tmp_path):
    wheel, digest = make_wheel(tmp_path / "fake.whl")
    files = fetch_ml100k(tmp_path / "data", wheel=wheel,
                         expected_sha256=digest)
    assert files.created
    assert files.ratings_csv == tmp_path / "data" / "ml-100k" / "ratings.csv"
    assert files.items_csv == tmp_path / "data" / "ml-100k-items.csv"
    assert files.ratings_csv.read_text() == (
        "user_id,item_id,rating,timestamp,genres\n"
        "196,242,3.0,881250949,Comedy\n"
        "186,302,3.0,891717742,Crime|Film-Noir|Mystery|Thriller\n"
        "22,242,1.0,878887116,Comedy\n")
    assert files.items_csv.read_text() == (
        "item_id,title,genres\n"
        "242,Kolya,Comedy\n"
        "302,L.A. Confidential,Crime|Film-Noir|Mystery|Thriller\n")
    assert sorted(p.name for p in (tmp_path / "data").rglob("*")) == [
        "ml-100k", "ml-100k-items.csv", "ratings.csv"]

    before = files.ratings_csv.stat().st_mtime_ns
    wheel.unlink()  # a second call must not even look at the wheel
    again = fetch_ml100k(tmp_path / "data", wheel=wheel)
    assert not again.created
    assert again.ratings_csv == files.ratings_csv
    assert files.ratings_csv.stat().st_mtime_ns == before
    # ...and without a wheel it must not download either (see fixture).
    assert not fetch_ml100k(tmp_path / "data").created


def test_wheel_without_the_dataset_is_refused(tmp_path):
    wheel, digest = make_wheel(tmp_path / "fake.whl",
                               {MEMBER_DIR + "ml-100k.inter": INTER})
    with pytest.raises(DataError, match="ml-100k.item not found in wheel"):
        fetch_ml100k(tmp_path / "data", wheel=wheel, expected_sha256=digest)


def test_missing_wheel_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        fetch_ml100k(tmp_path / "data", wheel=tmp_path / "missing.whl")


def test_not_a_zip_is_refused(tmp_path):
    wheel = tmp_path / "fake.whl"
    wheel.write_text("not a zip")
    digest = hashlib.sha256(b"not a zip").hexdigest()
    with pytest.raises(DataError, match="not a wheel"):
        fetch_ml100k(tmp_path / "data", wheel=wheel, expected_sha256=digest)


def test_bad_data_in_wheel_is_located(tmp_path):
    wheel, digest = make_wheel(tmp_path / "fake.whl", {
        MEMBER_DIR + "ml-100k.inter": INTER + "7\t302\tfive\t1\n",
        MEMBER_DIR + "ml-100k.item": ITEM})
    with pytest.raises(DataError) as caught:
        fetch_ml100k(tmp_path / "data", wheel=wheel, expected_sha256=digest)
    assert caught.value.path == f"{wheel}!{MEMBER_DIR}ml-100k.inter"
    assert (caught.value.line, caught.value.column) == (5, "rating:float")
    assert not (tmp_path / "data").exists()


def test_download_runs_pip_download(tmp_path, monkeypatch):
    monkeypatch.undo()  # the real download_recbole_wheel, fake pip
    calls = []

    def fake_pip(command, **kwargs):
        calls.append(command)
        (tmp_path / "recbole-1.2.1-py3-none-any.whl").write_bytes(b"x")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(recbole.subprocess, "run", fake_pip)
    wheel = recbole.download_recbole_wheel(tmp_path)
    assert wheel == tmp_path / "recbole-1.2.1-py3-none-any.whl"
    assert calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "--only-binary=:all:" in calls[0]
    assert "recbole==1.2.1" in calls[0]


def test_failed_download_raises(tmp_path, monkeypatch):
    monkeypatch.undo()
    monkeypatch.setattr(
        recbole.subprocess, "run", lambda command, **kwargs:
        subprocess.CompletedProcess(command, 1, "", "no network"))
    with pytest.raises(DownloadError, match="no network"):
        recbole.download_recbole_wheel(tmp_path)
