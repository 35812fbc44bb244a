"""What the commands print and take: the local runner's closing summary
(the served model after a cached re-run, cache hits with their original
time, a TensorBoard command that works from the repository root), the data
command's help, scripts/test.sh's arguments, a quiet Kubeflow compile and
where the report goes by default."""
import argparse
import configparser
import os
import re
import stat
import subprocess
import sys

import pytest

import local_runner
from conftest import REPO
from movielens_data import __main__ as data_command
from reporting import report

# What TensorFlow, CUDA, absl and Python warnings look like on stderr:
# "2026-12-07 19:30:48.569179: E external/...cuda_dnn.cc...", "E0000 00:00..",
# "FutureWarning: ...", "WARNING:absl:...".
NOISE = re.compile(r"cuda|cudnn|cufft|cublas|tensorrt|onednn|"
                   r"^\S+ \S+: [IWEF] |^[IWEF]\d{4} |warning", re.IGNORECASE)


# ------------------------------------------------ the local runner's summary


def _run_of(store, execution_id: int) -> str:
    [run] = [context.name for context in
             store.get_contexts_by_execution(execution_id)
             if context.type == "pipeline_run"]
    return run


def test_summary_of_a_cached_rerun_names_the_served_model(pipeline_history):
    from runtime import metadata_report
    store = metadata_report.open_store(pipeline_history["run"].metadata_path)
    first_run = _run_of(store, pipeline_history["first_steps"][0]
                        .execution_id)
    [version] = pipeline_history["first_versions"]
    served = f"{pipeline_history['serving_dir'] / version} (version {version}"
    cached = pipeline_history["cached"].stdout
    assert ("unchanged (cached re-run: nothing trained, judged or pushed "
            f"anew); pushed model: {served}, pushed ") in cached
    assert f"UTC by run {first_run})" in cached
    # A cache hit's own ~0 s, and the seconds of the execution it reused.
    first = {s.component: s.seconds for s in pipeline_history["first_steps"]}
    trainer = first["Trainer"]
    assert re.search(r"^  Trainer +CACHED +\d+\.\d s \(cached; it ran "
                     + re.escape(f"{trainer:.1f}") + r" s\)$", cached,
                     re.MULTILINE)
    # The run that pushed says so, and no cache hit of the Trainer.
    assert f"pushed model: {served}" in pipeline_history["first"].stdout
    assert "unchanged" not in pipeline_history["first"].stdout
    # A new model refused: not pushed, the served one still X.
    assert ("not pushed (see the checks above); the served model is still: "
            f"{served}") in pipeline_history["strict"].stdout


def test_summary_says_where_the_batch_recommendations_are(pipeline_history):
    from runtime import metadata_report
    from pipeline import configs
    store = metadata_report.open_store(pipeline_history["run"].metadata_path)
    output = metadata_report.latest_output(
        store, configs.BATCH_RECOMMENDER_ID, "recommendations",
        as_of=metadata_report.run_last_execution(
            store, _run_of(store, pipeline_history["first_steps"][-1]
                           .execution_id)))
    [version] = pipeline_history["first_versions"]
    users = output.custom_properties["users"].int_value
    assert users > 0
    assert (f"batch recommendations (top 10 for {users:,} users, model "
            f"version {version}): {output.uri}/recommendations.csv"
            ) in pipeline_history["first"].stdout
    assert ("batch recommendations: none written (no model was pushed)"
            in pipeline_history["strict"].stdout)


def test_summary_tensorboard_command_runs_from_the_repo_root(
        pipeline_history):
    tool = os.path.relpath(os.path.join(os.path.dirname(sys.executable),
                                        "tensorboard"), REPO)
    logdir = (pipeline_history["run"].output_root / "pipelines"
              / pipeline_history["run"].pipeline_name / "Trainer"
              / "model_run")
    assert (f"TensorBoard: {tool} --logdir {logdir}\n"
            in pipeline_history["first"].stdout)
    assert os.access(REPO / tool, os.X_OK)


def test_tensorboard_command_is_the_one_beside_the_interpreter(
        tmp_path, monkeypatch):
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    assert local_runner.tensorboard_command("/o/model_run") == (
        "tensorboard --logdir /o/model_run")  # none installed there
    (bin_dir / "tensorboard").write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    assert local_runner.tensorboard_command("/o/a b") == (
        "venv/bin/tensorboard --logdir '/o/a b'")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the venv is not below it
    assert local_runner.tensorboard_command("/o") == (
        f"{bin_dir / 'tensorboard'} --logdir /o")


# ------------------------------------------------------- the data command


def _subcommand_parsers():
    commands = next(action for action in data_command._parser()._actions
                    if isinstance(action, argparse._SubParsersAction))
    return commands.choices


def test_every_data_command_flag_has_help_with_its_default():
    parsers = _subcommand_parsers()
    assert set(parsers) == {"fetch-100k", "convert", "synthetic", "validate"}
    for name, parser in parsers.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flag = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{flag} has no help"
            assert "default" in action.help, f"{flag}: no default named"
            if action.required:
                assert "required" in action.help, flag


def test_data_command_help_shows_flags_and_defaults(capsys):
    with pytest.raises(SystemExit) as exit_:
        data_command.main(["synthetic", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("--seed SEED random seed: the same seed and sizes give the same "
            "files (required, no default)") in text
    assert "--dest DEST folder to write to" in text
    assert "(default: pipeline)" in text


# ------------------------------------------------------ scripts/test.sh


@pytest.fixture(name="test_sh")
def fixture_test_sh(tmp_path):
    """scripts/test.sh in a copy of the layout it expects, with stand-ins
    for the venv set-up, Chromium, its chromedriver and the venv's Python,
    which records the arguments pytest would get."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "test.sh").write_text(
        (REPO / "scripts" / "test.sh").read_text())
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_catalog.py").write_text("")
    stubs = {"scripts/setup_env.sh": "exit 0",
             "bin/chromium": "exit 0",
             "bin/chromedriver": "exit 0",
             ".venv/bin/python": 'printf "%s\\n" "$@" > "$0.args"'}
    for path, body in stubs.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(f"#!/usr/bin/env bash\n{body}\n")
    for path in ["scripts/test.sh", *stubs]:
        (tmp_path / path).chmod(stat.S_IRWXU)

    def run(*args: str) -> list:
        env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
        result = subprocess.run([str(tmp_path / "scripts" / "test.sh"),
                                 *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return (tmp_path / ".venv/bin/python.args").read_text().splitlines()
    return run


def test_test_sh_runs_only_the_file_it_is_given(test_sh):
    assert test_sh("tests/test_catalog.py") == [
        "-m", "pytest", "tests/test_catalog.py"]
    assert test_sh("tests/test_catalog.py::test_x", "-q") == [
        "-m", "pytest", "tests/test_catalog.py::test_x", "-q"]


def test_test_sh_without_a_path_runs_the_whole_suite_filtered(test_sh):
    assert test_sh("-k", "topk") == ["-m", "pytest", "-k", "topk"]
    assert test_sh() == ["-m", "pytest"]
    # ... which pytest takes from testpaths: every test under tests/.
    config = configparser.ConfigParser()
    config.read(REPO / "pytest.ini")
    assert config["pytest"]["testpaths"].split() == ["tests"]


# ---------------------------------------------------- the Kubeflow compile


def _fresh_shell_env() -> dict:
    """This environment without the TensorFlow log level that importing
    the runners in this process may have set."""
    return {name: value for name, value in os.environ.items()
            if name != "TF_CPP_MIN_LOG_LEVEL"}


@pytest.mark.e2e  # a cluster path: a whole Kubeflow compile, new process
def test_kubeflow_compile_prints_no_tensorflow_noise(tmp_path):
    """The v1 compile, whole (TensorFlow, TFX, kfp); the v2 runner quiets
    the same way, checked below without a second compile."""
    spec = tmp_path / "v1.tar.gz"
    result = subprocess.run(
        [sys.executable, str(REPO / "kubeflow_runner.py"), "--image",
         "gcr.io/p/movielens-tfx:1", "--pipeline-root", "gs://b/tfx",
         "--data-root", "gs://b/data/ml-100k", "--output", str(spec)],
        cwd=tmp_path, env=_fresh_shell_env(), capture_output=True,
        text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {spec} "), result.stdout
    noise = [line for line in result.stderr.splitlines()
             if NOISE.search(line)]
    assert noise == [], "\n".join(noise)


@pytest.mark.parametrize("runner", ["kubeflow_runner",
                                    "kubeflow_v2_runner"])
def test_kubeflow_runners_quiet_tensorflow_before_it_loads(runner):
    code = (f"import os, sys, {runner}; "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), "
            "'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                            env=_fresh_shell_env(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "False"]


# ------------------------------------------------ where the report goes


def test_report_goes_under_the_output_root_by_default(
        gathered_stub, tmp_path, monkeypatch, capsys):
    cwd, root = tmp_path / "repo", tmp_path / "outputs"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert report.main(["--output-root", str(root)]) == 0
    out = root / report.REPORT_FILE
    assert capsys.readouterr().out == f"report: {out}\n"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert list(cwd.iterdir()) == []


@pytest.fixture(name="gathered_stub")
def fixture_gathered_stub(monkeypatch):
    """The report's steps without a store: a page of one fixed dict."""
    def page(report_dict, figures):  # pylint: disable=unused-argument
        return "<!DOCTYPE html>\n<p>report</p>\n"
    monkeypatch.setattr(report, "gather_report",
                        lambda output_root, name, run_id: {"run": run_id})
    monkeypatch.setattr(report, "make_figures", lambda found: [])
    monkeypatch.setattr(report, "render_html", page)
