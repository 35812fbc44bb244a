"""Benchmark: the whole pipeline beside the seed notebook it replaces, by
default on MovieLens-100k with the seed defaults.

    .venv/bin/python benchmarks/pipeline_benchmark.py --runs 3
    .venv/bin/python benchmarks/pipeline_benchmark.py --runs 3 \
        --name pipeline_fast_ml100k -- --recipe fast
    .venv/bin/python benchmarks/pipeline_benchmark.py --runs 3 --reruns 2 \
        --name rerun_ml100k -- --train-steps 2000
    .venv/bin/python benchmarks/pipeline_benchmark.py --runs 1 \
        --name pipeline_ml1m_synthetic --data-dir data/synthetic-1m

Each run is a fresh `local_runner.py` process in a fresh output root (nothing
cached), then `--reruns` more runs of the same command in the same root; then,
unless --no-notebook, the seed notebook's recipe (notebook_baseline.py) on
that run's own CsvExampleGen split, and the limit probe (limit_probe.py): the
same model math as one fused training step and one scoring forward pass.
Pipeline, notebook and probe run one after the other in the same invocation,
so their ratios hold on any machine while absolute seconds do not.

Writes benchmarks/results/<name>.json: medians over the runs of wall time,
peak memory (max RSS of the runner process and its children), per-component
wall time from the metadata store, the Trainer's steps/s, the evaluation
metrics, the wall time and component states of each re-run, the notebook's
and the probe's figures, and the ratios (pipeline / notebook). Extra
arguments after `--` go to local_runner.py.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import common  # noqa: E402
from components.topk_evaluator.executor import read_evaluation  # noqa: E402
from pipeline import configs  # noqa: E402
from runtime import metadata_report  # noqa: E402
from trainer_module.export import TRAINING_STATS_FILE  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")

# Runs a command and prints the peak RSS (KiB) of its largest process: a
# fresh wrapper per run, so earlier runs do not count.
_MEASURE = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(f'PEAK_RSS_KIB={peak}', file=sys.stderr)\n"
            "sys.exit(code)\n")


def run_once(data_dir: str, extra_args: List[str], reruns: int,
             notebook: bool, probe_seconds: float) -> Dict:
    """One fresh pipeline run, `reruns` in the same root, then the notebook
    on the run's own split and the limit probe."""
    with tempfile.TemporaryDirectory(prefix="bench-") as output_root:
        command = [sys.executable, os.path.join(REPO, "local_runner.py"),
                   "--data-dir", data_dir, "--output-root", output_root,
                   *extra_args]
        wall, peak_kib = timed_run(command)
        store = metadata_report.open_store(os.path.join(
            output_root, "metadata", configs.PIPELINE_NAME, "metadata.db"))
        figures = pipeline_figures(store, wall, peak_kib)
        figures["reruns"] = []
        for _ in range(reruns):
            wall, _ = timed_run(command)
            figures["reruns"].append({
                "wall_seconds": round(wall, 1),
                "executed": sorted(
                    step.component for step in
                    metadata_report.component_runs(store)
                    if step.state == "COMPLETE")})
        if notebook:
            figures["notebook"] = notebook_figures(
                metadata_report.latest_output(
                    store, configs.EXAMPLE_GEN_ID, "examples").uri, output_root)
            figures["probe"] = json_command(
                [os.path.join(REPO, "benchmarks", "limit_probe.py"),
                 "--seconds", str(probe_seconds)], output_root)[0]
            figures["ratios"] = ratios(figures)
        return figures


def run_figures(store, wall: float, peak_kib: int) -> Dict:
    """Wall time, peak memory and seconds per component of one run."""
    return {
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "component_seconds": {
            step.component: round(step.seconds, 1)
            for step in metadata_report.component_runs(store)},
    }


def pipeline_figures(store, wall: float, peak_kib: int) -> Dict:
    """Wall time, memory, per-component seconds, Trainer speed, metrics."""
    return {
        **run_figures(store, wall, peak_kib),
        "trainer": common.read_json(os.path.join(
            metadata_report.latest_output(store, configs.TRAINER_ID, "model_run").uri,
            TRAINING_STATS_FILE)),
        "eval_metrics": {
            name: round(value, 4) for name, value in
            metadata_report.overall_metrics(
                metadata_report.latest_evaluation_uri(store)).items()},
        "topk": topk_figures(read_evaluation(
            metadata_report.latest_evaluation_uri(store, configs.TOPK_EVALUATOR_ID))),
        "blessed": metadata_report.latest_blessing(store),
    }


def notebook_figures(examples_uri: str, work_dir: str) -> Dict:
    """notebook_baseline.py on the pipeline's split, with its wall time and
    peak memory as a process."""
    figures, wall, peak_kib = json_command(
        [os.path.join(REPO, "benchmarks", "notebook_baseline.py"),
         "--examples", examples_uri], work_dir)
    return {**figures, "wall_seconds": round(wall, 1),
            "peak_rss_mb": round(peak_kib / 1024, 1)}


def json_command(script: List[str], work_dir: str) -> Tuple[Dict, float, int]:
    """(the JSON a benchmark script writes with --out, wall s, peak KiB)."""
    out = os.path.join(work_dir, "figures.json")
    wall, peak_kib = timed_run([sys.executable, *script, "--out", out])
    return common.read_json(out), wall, peak_kib


def ratios(run: Dict) -> Dict[str, float]:
    """Pipeline against the notebook and the probe, within one run."""
    notebook, probe = run["notebook"], run["probe"]
    topk_pairs = run["topk"]["timing"]["pairs_per_second"]
    trainer_steps = run["trainer"]["steps_per_second"]
    return {
        "pipeline_wall_over_notebook_wall": round(
            run["wall_seconds"] / notebook["wall_seconds"], 3),
        "trainer_steps_over_notebook_steps": round(
            trainer_steps / notebook["train_steps_per_second"], 3),
        "topk_pairs_over_notebook_pairs": round(
            topk_pairs / notebook["pool_pairs_per_second"], 3),
        "trainer_steps_over_probe_steps": round(
            trainer_steps / probe["train_steps_per_second"], 3),
        "topk_pairs_over_probe_pairs": round(
            topk_pairs / probe["scoring_pairs_per_second"], 3),
        # Quality on the same split: the TFMA Evaluator's RMSE (a ranking
        # model has none) and the TopKEvaluator's ndcg@k.
        **({"rmse_minus_notebook_rmse": round(
            run["eval_metrics"]["root_mean_squared_error"]
            - notebook["metrics"]["rmse"], 4)}
           if "root_mean_squared_error" in run["eval_metrics"] else {}),
        "ndcg_minus_notebook_ndcg": round(
            run["topk"]["model"]["ndcg@k"] - notebook["metrics"]["ndcg@k"], 4),
    }


def timed_run(command: List[str]) -> Tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one process."""
    started = time.time()
    result = subprocess.run([sys.executable, "-c", _MEASURE, *command],
                            cwd=REPO, capture_output=True, text=True)
    wall = time.time() - started
    if result.returncode != 0:
        sys.exit(f"benchmark run failed:\n{result.stdout}\n{result.stderr}")
    return wall, int(result.stderr.rsplit("PEAK_RSS_KIB=", 1)[1].split()[0])


def topk_figures(evaluation: Dict) -> Dict:
    """The TopKEvaluator's metrics.json, less the per-check blessing detail."""
    return {key: evaluation[key] for key in
            ("k", "pool", "timing", "model", "popularity")}


def summarize(name: str, command: str, runs: List[Dict], data_dir: str,
              extra_args: List[str]) -> Dict:
    """Medians over runs, under stable keys."""
    components = runs[0]["component_seconds"]
    reruns = len(runs[0]["reruns"])
    return {
        "benchmark": name,
        "command": command,
        "data_dir": os.path.relpath(data_dir, REPO),
        "hyperparameters": "seed defaults" if not extra_args else extra_args,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%d"),
        "runs": len(runs),
        "wall_seconds_median": statistics.median(
            r["wall_seconds"] for r in runs),
        "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in runs),
        "component_seconds_median": {
            name: statistics.median(r["component_seconds"][name] for r in runs)
            for name in components},
        "eval_metrics_median": common.medians([r["eval_metrics"] for r in runs]),
        "topk_median": {
            "k": runs[0]["topk"]["k"],
            "pool": runs[0]["topk"]["pool"],
            "timing": common.medians([r["topk"]["timing"] for r in runs]),
            "model": common.medians([r["topk"]["model"] for r in runs]),
            "popularity": common.medians([r["topk"]["popularity"] for r in runs]),
        },
        "trainer_median": common.medians([r["trainer"] for r in runs]),
        **side_by_side_medians(runs),
        "rerun_wall_seconds_median": [
            statistics.median(r["reruns"][i]["wall_seconds"] for r in runs)
            for i in range(reruns)],
        "per_run": runs,
    }


def side_by_side_medians(runs: List[Dict]) -> Dict:
    """Medians of the notebook's and the probe's figures and of the per-run
    ratios (each ratio is taken within one run, then the median)."""
    if "notebook" not in runs[0]:
        return {}
    notebooks = [r["notebook"] for r in runs]
    return {
        "notebook_median": {
            "wall_seconds": statistics.median(
                n["wall_seconds"] for n in notebooks),
            "peak_rss_mb": statistics.median(
                n["peak_rss_mb"] for n in notebooks),
            "seconds": common.medians([n["seconds"] for n in notebooks]),
            "train_steps": notebooks[0]["train_steps"],
            "train_steps_per_second": statistics.median(
                n["train_steps_per_second"] for n in notebooks),
            "pool_pairs_per_second": statistics.median(
                n["pool_pairs_per_second"] for n in notebooks),
            "metrics": common.medians([n["metrics"] for n in notebooks]),
        },
        "probe_median": common.medians([r["probe"] for r in runs]),
        "ratios_median": common.medians([r["ratios"] for r in runs]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir",
                        default=os.path.join(REPO, configs.DEFAULT_DATA_DIR))
    parser.add_argument("--reruns", type=int, default=0,
                        help="runs of the same command in the same root "
                             "after each fresh run")
    parser.add_argument("--name", default="pipeline_ml100k",
                        help="benchmark name: results/<name>.json")
    parser.add_argument("--no-notebook", action="store_true",
                        help="run only the pipeline (no notebook baseline, "
                             "no limit probe)")
    parser.add_argument("--probe-seconds", type=float, default=15.0,
                        help="measuring time of each limit-probe figure")
    parser.add_argument("extra", nargs="*",
                        help="arguments for local_runner.py (after --)")
    args = parser.parse_args()
    data_dir = os.path.abspath(args.data_dir)
    runs = common.repeat(
        args.runs, lambda: run_once(data_dir, args.extra, args.reruns,
                                    not args.no_notebook, args.probe_seconds),
        ("wall_seconds", "peak_rss_mb", "eval_metrics", "reruns", "ratios"))
    command = " ".join(["benchmarks/pipeline_benchmark.py", *sys.argv[1:]])
    common.write_report(os.path.join(RESULTS, args.name + ".json"),
                        summarize(args.name, command, runs, data_dir,
                                  args.extra))


if __name__ == "__main__":
    main()
