"""local_runner.py's check before a run is `python -m movielens_data
validate`: the same function, so the same lines and the same exit code (2)
for the same file, and nothing is made under the output root on bad data."""
import pytest

import local_runner
from bad_data import BAD_DATA, write_bad_data
from conftest import write_synthetic_data
from movielens_data.__main__ import main as data_command

@pytest.fixture(scope="module")
def good_data(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("good")
    write_synthetic_data(data_dir)
    return data_dir


def _validate(path, capsys):
    code = data_command(["validate", str(path)])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()[-1] if err else ""


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_local_runner_and_validate_say_the_same_and_exit_2(
        good_data, tmp_path, capsys, case):
    bad = write_bad_data(good_data, tmp_path / case, case)
    output_root = tmp_path / "outputs"

    runner_code = local_runner.main(["--data-dir", str(bad),
                                     "--output-root", str(output_root)])
    runner_err = capsys.readouterr().err
    data_code, _, data_err = _validate(bad, capsys)

    assert (runner_code, data_code) == (2, 2)
    assert runner_err == data_err + "\n"
    assert data_err.startswith(f"error: {bad / 'ratings.csv'}")
    assert BAD_DATA[case].data_check_says in data_err
    assert not output_root.exists()


def test_good_data_gets_the_same_summary_line(good_data, capsys):
    assert local_runner.check_data(str(good_data)) is True
    runner_out = capsys.readouterr().out
    code, data_out, _ = _validate(good_data, capsys)
    assert code == 0
    assert runner_out == data_out == (
        f"ratings: {good_data / 'ratings.csv'} (1500 ratings, 60 users, "
        f"80 items)\n")


def test_missing_data_folder_exits_2_saying_how_to_make_one(tmp_path,
                                                           capsys):
    code = local_runner.main(["--data-dir", str(tmp_path / "nope"),
                              "--output-root", str(tmp_path / "outputs")])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'nope'}: no such file or folder; make one with "
        f"`python -m movielens_data fetch-100k --dest data` (MovieLens-100k) "
        f"or see docs/data.md\n")


def test_data_dir_naming_the_csv_itself_exits_2(good_data, tmp_path, capsys):
    csv = good_data / "ratings.csv"
    code = local_runner.main(["--data-dir", str(csv),
                              "--output-root", str(tmp_path / "outputs")])
    assert code == 2
    assert capsys.readouterr().err == (
        f"error: --data-dir {csv}: must be the folder holding ratings.csv, "
        f"not a file\n")
