"""Every numeric flag of the runners is checked when parsed: a value that
cannot work stops before the run, in one line naming the flag, exit code 2
(docs/data.md, exit codes)."""
import os
import socket
import subprocess
import sys

import pytest

import local_runner
from conftest import REPO
from pipeline import cluster_options, options
from trainer_module import objectives

CLUSTER = ["--image", "gcr.io/p/movielens-tfx:1", "--pipeline-root",
           "gs://b/tfx", "--data-root", "gs://b/data"]

# (flags, the error after "argument ")
BAD_FLAGS = [
    (["--top-k", "0"], "--top-k: must be an integer >= 1, got '0'"),
    (["--top-k", "-3"], "--top-k: must be an integer >= 1, got '-3'"),
    (["--top-k", "2.5"], "--top-k: must be an integer >= 1, got '2.5'"),
    (["--train-steps", "0"],
     "--train-steps: must be an integer >= 1, got '0'"),
    (["--epochs", "0"], "--epochs: must be an integer >= 1, got '0'"),
    (["--batch-size", "-64"],
     "--batch-size: must be an integer >= 1, got '-64'"),
    (["--max-rmse", "-1"], "--max-rmse: must be a number > 0, got '-1'"),
    (["--max-rmse", "0"], "--max-rmse: must be a number > 0, got '0'"),
    (["--max-rmse", "nan"], "--max-rmse: must be a number > 0, got 'nan'"),
    (["--max-rmse", "inf"], "--max-rmse: must be a number > 0, got 'inf'"),
    (["--rmse-tolerance", "-0.01"],
     "--rmse-tolerance: must be a number >= 0, got '-0.01'"),
    (["--min-ndcg", "1.5"],
     "--min-ndcg: must be a number in [0, 1], got '1.5'"),
    (["--min-ndcg", "nan"],
     "--min-ndcg: must be a number in [0, 1], got 'nan'"),
    (["--ndcg-tolerance", "nan"],
     "--ndcg-tolerance: must be a number >= 0, got 'nan'"),
    (["--min-auc", "-0.1"],
     "--min-auc: must be a number in [0, 1], got '-0.1'"),
    (["--auc-tolerance", "-1"],
     "--auc-tolerance: must be a number >= 0, got '-1'"),
    (["--auc-user-fraction", "0"],
     "--auc-user-fraction: must be a number in (0, 1], got '0'"),
    (["--topk-sample-users", "-1"],
     "--topk-sample-users: must be an integer >= 0, got '-1'"),
    (["--split-seed", "-1"],
     "--split-seed: must be an integer >= 0, got '-1'"),
    (["--random-seed", "-7"],
     "--random-seed: must be an integer >= 0, got '-7'"),
    (["--dropout", "1"], "--dropout: must be a number in [0, 1), got '1'"),
    (["--dnn-learning-rate", "inf"],
     "--dnn-learning-rate: must be a number > 0, got 'inf'"),
    (["--linear-learning-rate", "0"],
     "--linear-learning-rate: must be a number > 0, got '0'"),
    (["--linear-l1", "-0.5"],
     "--linear-l1: must be a number >= 0, got '-0.5'"),
    (["--ease-l2", "nan"], "--ease-l2: must be a number > 0, got 'nan'"),
    (["--crossed-hash-buckets", "0"],
     "--crossed-hash-buckets: must be an integer >= 1, got '0'"),
    (["--item-embedding-dim", "0"],
     "--item-embedding-dim: must be an integer >= 1, got '0'"),
    (["--user-embedding-dim", "-4"],
     "--user-embedding-dim: must be an integer >= 0, got '-4'"),
    (["--history-embedding-dim", "x"],
     "--history-embedding-dim: must be an integer >= 0, got 'x'"),
    (["--negatives-per-positive", "-1"],
     "--negatives-per-positive: must be an integer >= 0, got '-1'"),
    (["--hidden-units", "16,x"],
     "--hidden-units: must be positive integers separated by commas, e.g. "
     "1024,32,1024, got '16,x'"),
    (["--hidden-units", "16,0"],
     "--hidden-units: must be positive integers separated by commas, e.g. "
     "1024,32,1024, got '16,0'"),
]


@pytest.mark.parametrize("flags,message", BAD_FLAGS,
                         ids=[" ".join(flags) for flags, _ in BAD_FLAGS])
def test_local_runner_refuses_the_flag_in_one_line(capsys, flags, message):
    with pytest.raises(SystemExit) as caught:
        local_runner.parse_args(flags)
    assert caught.value.code == 2
    prog = os.path.basename(sys.argv[0])  # argparse's default name
    assert capsys.readouterr().err == (
        f"error: argument {message} (see {prog} --help)\n")


@pytest.mark.parametrize("flags,message", [
    (["--beam-workers", "0"],
     "--beam-workers: must be an integer >= 1, got '0'")],
    ids=["--beam-workers 0"])
def test_local_runner_refuses_its_own_flags(capsys, flags, message):
    with pytest.raises(SystemExit) as caught:
        local_runner.parse_args(flags)
    assert caught.value.code == 2
    assert f"error: argument {message} (see " in capsys.readouterr().err


@pytest.mark.parametrize("flags,message", [
    (["--top-k", "0"], "--top-k: must be an integer >= 1, got '0'"),
    (["--max-rmse", "nan"], "--max-rmse: must be a number > 0, got 'nan'"),
    (["--beam-workers", "-1"],
     "--beam-workers: must be an integer >= 0, got '-1'"),
], ids=["--top-k 0", "--max-rmse nan", "--beam-workers -1"])
def test_kubeflow_runners_refuse_the_flag_in_one_line(capsys, flags,
                                                      message):
    with pytest.raises(SystemExit) as caught:
        cluster_options.parse_cluster_args([*CLUSTER, *flags], "", "x")
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: argument {message} (see ")
    assert err.count("\n") == 1


def test_kubeflow_runners_refuse_flags_that_cannot_go_together(capsys):
    with pytest.raises(SystemExit) as caught:
        cluster_options.parse_cluster_args(
            [*CLUSTER, "--negatives-per-positive", "2"], "", "x")
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith(
        "error: the rating objective samples no negatives: "
        "--negatives-per-positive must be 0, got 2 (see ")


def test_limits_themselves_are_accepted():
    args = local_runner.parse_args([
        "--top-k", "1", "--train-steps", "1", "--max-rmse", "0.01",
        "--rmse-tolerance", "0", "--min-ndcg", "1", "--ndcg-tolerance", "1",
        "--min-auc", "0", "--auc-tolerance", "0", "--auc-user-fraction", "1",
        "--topk-sample-users", "0", "--split-seed", "0", "--random-seed",
        "0", "--dropout", "0", "--user-embedding-dim", "0",
        "--history-embedding-dim", "4", "--hidden-units", "16,8",
        "--beam-workers", "1"])
    assert (args.top_k, args.train_steps, args.max_rmse, args.min_ndcg,
            args.ndcg_tolerance, args.min_auc, args.auc_user_fraction,
            args.topk_sample_users, args.dropout, args.hidden_units) == (
        1, 1, 0.01, 1.0, 1.0, 0.0, 1.0, 0, 0.0, [16, 8])
    assert options.hparams_from_args(args).train_steps == 1


def test_flags_that_cannot_go_together_are_named_as_flags(capsys):
    code = local_runner.run(local_runner.parse_args(
        ["--batch-size", "4", "--objective", "ranking",
         "--negatives-per-positive", "4"]))
    assert code == 2
    assert capsys.readouterr().err == (
        "error: --batch-size 4 holds no positive with its 4 negatives: it "
        "must be at least 5\n")


def test_bad_flag_as_a_user_sees_it():
    result = subprocess.run(
        [sys.executable, str(REPO / "local_runner.py"), "--top-k", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr == ("error: argument --top-k: must be an integer "
                             ">= 1, got '0' (see local_runner.py --help)\n")
    assert result.stdout == ""


@pytest.mark.parametrize("flags,message", [
    (["--beam-preset", "portable"],
     "--beam-preset portable needs --job-endpoint HOST:PORT"),
    (["--beam-preset", "portable", "--job-endpoint", "js:8099",
      "--environment-type", "DOCKER"],
     "--beam-preset portable: DOCKER workers need the pipeline image"),
    (["--beam-preset", "portable", "--job-endpoint", "js:8099",
      "--job-server-timeout", "0"],
     "argument --job-server-timeout: must be an integer >= 1, got '0'"),
], ids=["no endpoint", "DOCKER without image", "timeout 0"])
def test_local_runner_refuses_an_incomplete_portable_preset(capsys, flags,
                                                            message):
    with pytest.raises(SystemExit) as caught:
        local_runner.parse_args(flags)
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {message} (see ")


def test_local_runner_stops_at_once_if_no_job_service_answers(capsys,
                                                              tmp_path):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("localhost", 0))
        endpoint = f"localhost:{unused.getsockname()[1]}"
    code = local_runner.run(local_runner.parse_args(
        ["--beam-preset", "portable", "--job-endpoint", endpoint,
         "--output-root", str(tmp_path / "out")]))
    assert code == 2
    assert capsys.readouterr().err.startswith(
        f"error: --job-endpoint {endpoint}: no Beam job service answers "
        f"there (Connection refused); start one first")
    assert not (tmp_path / "out").exists()  # nothing ran


def test_kubeflow_runners_refuse_an_extra_package_the_pods_cannot_see(
        capsys):
    with pytest.raises(SystemExit) as caught:
        cluster_options.parse_cluster_args(
            [*CLUSTER, "--beam-preset", "flink", "--job-endpoint", "js:8099",
             "--extra-package", "dist/p.whl"], "", "x")
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith(
        "error: --extra-package must be a URL (gs://...) or an absolute "
        "path the pods mount, got 'dist/p.whl' (see ")


def help_blocks(text: str) -> dict:
    """{flag: its --help entry, whitespace collapsed} of a help text."""
    blocks, flag = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("  -"):
            flag = stripped.split()[0].rstrip(",")
            blocks[flag] = stripped
        elif flag and line.startswith("    ") and stripped:
            blocks[flag] += " " + stripped
        else:
            flag = None
    return blocks


def runner_parsers():
    """(name, parser) of local_runner.py and the Kubeflow runners."""
    import argparse
    captured = {}
    real = argparse.ArgumentParser.parse_args

    def capture(parser, *args, **kwargs):
        captured["parser"] = parser
        raise SystemExit(0)
    argparse.ArgumentParser.parse_args = capture
    try:
        with pytest.raises(SystemExit):
            local_runner.parse_args([])
    finally:
        argparse.ArgumentParser.parse_args = real
    return [("local_runner.py", captured["parser"]),
            ("kubeflow runners", cluster_options.build_cluster_parser("", "x.json"))]


@pytest.mark.parametrize("name,parser", runner_parsers(),
                         ids=lambda value: value if isinstance(value, str)
                         else "")
def test_help_states_every_default(name, parser):
    """Every flag with a default says it in --help, and the model flags
    (no argparse default: the recipe decides) give the recipes' values."""
    from trainer_module.hparams import HParams
    blocks = help_blocks(parser.format_help())
    for action in parser._actions:
        if (not action.option_strings or action.default in (None, False)
                or action.default == [] or action.help == "==SUPPRESS=="):
            continue
        flag = action.option_strings[-1]
        if flag == "--help":
            continue
        assert str(action.default) in blocks[flag], (name, flag)
    ranking = objectives.RANKING.default_hparams()
    for flag, value in [("--epochs", "default: 50; --recipe fast: 20; "
                                     "ranking: 3"),
                        ("--hidden-units", "default: 1024,32,1024"),
                        ("--crossed-hash-buckets",
                         f"default: {HParams().crossed_hash_buckets}; "
                         f"ranking: {ranking.crossed_hash_buckets}"),
                        ("--data-dir", "(default: data/ml-100k)"),
                        ("--recommendations-k", "(default: 10)")]:
        if flag in blocks:
            assert value in blocks[flag], (name, flag, blocks[flag])
    assert "--recommendations-k" in blocks


def test_local_runner_help_as_a_user_sees_it():
    result = subprocess.run(
        [sys.executable, str(REPO / "local_runner.py"), "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0
    blocks = help_blocks(result.stdout)
    assert "(default: outputs)" in blocks["--output-root"]
    assert "(default: 0.005)" in blocks["--min-ndcg"]
    assert "(default: movielens-wide-deep)" in blocks["--pipeline-name"]


def test_kubeflow_spec_goes_under_the_output_root_by_default(tmp_path,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = cluster_options.parse_cluster_args(CLUSTER, "", "x")
    folder, name = cluster_options.prepare_output(args, ".json")
    assert (folder, name) == (str(tmp_path / "outputs" / "kubeflow"),
                              "movielens-wide-deep.json")
    assert os.path.isdir(folder) and os.listdir(tmp_path) == ["outputs"]
    # --output still decides where it goes.
    args = cluster_options.parse_cluster_args(
        [*CLUSTER, "--output", "specs/p.tar.gz"], "", "x")
    assert cluster_options.prepare_output(args, ".tar.gz") == [
        str(tmp_path / "specs"), "p.tar.gz"]


def test_recommendations_k_reaches_the_pipeline_and_0_leaves_it_out(
        tmp_path):
    from pipeline.pipeline import create_pipeline
    from pipeline.settings import PipelinePaths
    ids = {}
    for k in ("3", "0"):
        args = local_runner.parse_args(["--recommendations-k", k])
        settings = options.pipeline_settings(args)
        assert settings["recommendations_k"] == int(k)
        pipeline = create_pipeline(
            "p", PipelinePaths(str(tmp_path / "root"), str(tmp_path / "data"),
                               str(tmp_path / "serving")), **settings)
        ids[k] = {c.id: c for c in pipeline.components}
    recommender = ids["3"]["BatchRecommender"]
    assert recommender.exec_properties["top_k"] == 3
    assert recommender.exec_properties["items_path"] == str(
        tmp_path / "data-items.csv")
    assert "BatchRecommender" not in ids["0"]
    assert set(ids["3"]) - set(ids["0"]) == {"BatchRecommender"}
