"""A full disk at any point of a local run is one line naming the component
that was running, exit code 4 (docs/data.md), instead of TensorFlow's
ResourceExhaustedError and the trace embedded in its message. No disk is
filled: the errors are the real types with the texts they carry."""
import errno
import logging
import os

import pytest
import tensorflow as tf

import local_runner
from conftest import TINY_MODEL_FLAGS, write_synthetic_data
from movielens_data import __main__ as data_command
from pipeline import configs
from runtime import progress

ROOT = "/srv/outputs"
TRACE = "\n".join(
    f'    File "/venv/lib/python3.10/site-packages/tensorflow_estimator/'
    f'python/estimator/estimator.py", line {1000 + n}, in _train_model'
    for n in range(36))


def _tf_message(root):
    """What TensorFlow's SaveV2 raised when the output root filled up: the
    "No space left on device" is on line 41 of the message."""
    return (
        "Graph execution error:\n\nDetected at node 'save/SaveV2' defined "
        "at (most recent call last):\n" + TRACE + "\nNode: 'save/SaveV2'\n"
        f"{root}/pipelines/p/Trainer/model_run/7/model.ckpt-0_temp/part-"
        "00000-of-00001.data-00000-of-00001.tempstate875082040426485014; No "
        "space left on device\n\t [[{{node save/SaveV2}}]]\nHint: If you "
        "want to see a list of allocated tensors when OOM happens, add "
        "report_tensor_allocations_upon_oom to RunOptions for current "
        "allocation info.")


def _disk_full_tf_error(root=ROOT):
    return tf.errors.ResourceExhaustedError(None, None, _tf_message(root))


def _raised_from(cause, error):
    """error as `raise error from cause` leaves it."""
    try:
        raise error from cause
    except Exception as raised:  # pylint: disable=broad-except
        return raised


def test_tensorflow_error_is_one_line_naming_the_component():
    error = _disk_full_tf_error()
    assert str(error).splitlines()[40].endswith("No space left on device")
    assert local_runner.is_disk_full(error)
    assert local_runner.disk_full_message(
        error, "while Trainer ran", ROOT, f"{ROOT}/logs/p.log") == (
        f"error: no space left on device while Trainer ran (under {ROOT}); "
        f"free space and re-run: nothing was pushed (full log: "
        f"{ROOT}/logs/p.log)")


def test_oserror_inside_another_error_is_found():
    error = _raised_from(
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                f"{ROOT}/pipelines/p/CsvExampleGen/1/Split-train/data.gz"),
        RuntimeError("[while running 'WriteSplit[train]/Write']"))
    assert local_runner.is_disk_full(error)
    assert local_runner.disk_full_message(
        error, "while CsvExampleGen ran", ROOT) == (
        f"error: no space left on device while CsvExampleGen ran (under "
        f"{ROOT}); free space and re-run: nothing was pushed")


def test_a_full_disk_outside_the_output_root_is_named():
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                    "/tmp/beam-temp-x/part-0")
    assert local_runner.disk_full_message(
        error, "while Transform ran", ROOT) == (
        "error: no space left on device while Transform ran (writing "
        "/tmp/beam-temp-x/part-0); free space and re-run: nothing was "
        "pushed")


def test_full_metadata_store_is_a_full_disk():
    # ML Metadata's error when SQLite cannot grow the store.
    error = RuntimeError("Error when executing query: database or disk is "
                         "full query:  INSERT INTO `EventPath`")
    assert local_runner.is_disk_full(error)


@pytest.mark.parametrize("error", [
    tf.errors.ResourceExhaustedError(
        None, None, "OOM when allocating tensor with shape[100000,64]"),
    OSError(errno.EACCES, os.strerror(errno.EACCES), "/srv/outputs"),
    ValueError("rating must be finite"),
], ids=["out of memory", "permission denied", "other"])
def test_other_failures_are_not_a_full_disk(error):
    assert not local_runner.is_disk_full(error)


def test_run_exits_4_naming_the_running_component(
        tmp_path, capsys, monkeypatch, restore_logging):
    def run_out_of_space(self, pipeline):  # pylint: disable=unused-argument
        self.progress.started("Trainer")
        raise _disk_full_tf_error(str(output_root))
    monkeypatch.setattr(progress.ProgressDagRunner, "run", run_out_of_space)
    data = tmp_path / "data"
    write_synthetic_data(data)
    output_root = tmp_path / "outputs"

    code = local_runner.main(["--data-dir", str(data), "--output-root",
                              str(output_root), "--pipeline-name", "p",
                              *TINY_MODEL_FLAGS])

    assert code == 4
    [log] = os.listdir(output_root / "logs")
    assert capsys.readouterr().err == (
        f"error: no space left on device while Trainer ran (under "
        f"{output_root}); free space and re-run: nothing was pushed (full "
        f"log: {output_root / 'logs' / log})\n")


def test_full_disk_before_any_component_exits_4(tmp_path, capsys,
                                                monkeypatch):
    def make_dirs(self):  # pylint: disable=unused-argument
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                      str(tmp_path / "outputs" / "metadata"))
    monkeypatch.setattr(configs.LocalPaths, "make_dirs", make_dirs)

    code = local_runner.main(["--skip-data-check", "--output-root",
                              str(tmp_path / "outputs")])

    assert code == 4
    assert capsys.readouterr().err == (
        f"error: no space left on device before any component ran (under "
        f"{tmp_path / 'outputs'}); free space and re-run: nothing was "
        f"pushed\n")


class _FullDisk:
    """A file whose every write fails as on a full disk (or with `code`)."""

    def __init__(self, code=errno.ENOSPC):
        self.code = code

    def write(self, text):
        raise OSError(self.code, os.strerror(self.code))

    def flush(self):
        pass


@pytest.mark.parametrize("code,printed", [(errno.ENOSPC, False),
                                          (errno.EIO, True)],
                         ids=["ENOSPC dropped", "EIO reported"])
def test_log_file_on_a_full_disk_prints_no_traceback_per_record(
        tmp_path, capsys, code, printed):
    handler = progress.LogFileHandler(str(tmp_path / "run.log"))
    handler.stream.close()
    handler.stream = _FullDisk(code)
    handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1,
                                   "Component Trainer is running.", None,
                                   None))
    err = capsys.readouterr().err
    assert ("--- Logging error ---" in err) is printed


def test_data_command_exits_4_on_a_full_disk(tmp_path, capsys, monkeypatch):
    path = tmp_path / "data" / "ratings.csv"

    def full(*args, **kwargs):  # pylint: disable=unused-argument
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(data_command, "validate_pipeline_csv", full)

    assert data_command.main(["validate", str(path)]) == 4
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: no space left on device: {path}; free space and run the "
        f"command again")
