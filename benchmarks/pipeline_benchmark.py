"""Benchmark: the whole pipeline, by default on MovieLens-100k with the seed
defaults.

    .venv/bin/python benchmarks/pipeline_benchmark.py --runs 3
    .venv/bin/python benchmarks/pipeline_benchmark.py --runs 3 --reruns 2 \
        --name rerun_ml100k -- --train-steps 2000
    .venv/bin/python benchmarks/pipeline_benchmark.py --runs 1 \
        --name pipeline_ml1m_synthetic --data-dir data/synthetic-1m

Each run is a fresh `local_runner.py` process in a fresh output root (nothing
cached), then `--reruns` more runs of the same command in the same root.
Writes benchmarks/results/<name>.json: medians over the runs of wall time,
peak memory (max RSS of the runner process and its children) and per-
component wall time from the metadata store, the evaluation metrics, and the
wall time and component states of each re-run. Extra arguments after `--` go
to local_runner.py.
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
from pipeline import configs, metadata_report  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")

# Runs a command and prints the peak RSS (KiB) of its largest process: a
# fresh wrapper per run, so earlier runs do not count.
_MEASURE = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(f'PEAK_RSS_KIB={peak}', file=sys.stderr)\n"
            "sys.exit(code)\n")


def run_once(data_dir: str, extra_args: List[str], reruns: int) -> Dict:
    """One fresh pipeline run, then `reruns` in the same root."""
    with tempfile.TemporaryDirectory(prefix="bench-") as output_root:
        command = [sys.executable, os.path.join(REPO, "local_runner.py"),
                   "--data-dir", data_dir, "--output-root", output_root,
                   *extra_args]
        wall, peak_kib = timed_run(command)
        store = metadata_report.open_store(os.path.join(
            output_root, "metadata", configs.PIPELINE_NAME, "metadata.db"))
        figures = {
            "wall_seconds": round(wall, 1),
            "peak_rss_mb": round(peak_kib / 1024, 1),
            "component_seconds": {
                step.component: round(step.seconds, 1)
                for step in metadata_report.component_runs(store)},
            "eval_metrics": {
                name: round(value, 4) for name, value in
                metadata_report.overall_metrics(
                    metadata_report.latest_evaluation_uri(store)).items()},
            "topk": topk_figures(read_evaluation(
                metadata_report.latest_evaluation_uri(store,
                                                      "TopKEvaluator"))),
            "blessed": metadata_report.latest_blessing(store),
        }
        figures["reruns"] = []
        for _ in range(reruns):
            wall, _ = timed_run(command)
            figures["reruns"].append({
                "wall_seconds": round(wall, 1),
                "executed": sorted(
                    step.component for step in
                    metadata_report.component_runs(store)
                    if step.state == "COMPLETE")})
        return figures


def timed_run(command: List[str]) -> Tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one local_runner.py process."""
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
        "rerun_wall_seconds_median": [
            statistics.median(r["reruns"][i]["wall_seconds"] for r in runs)
            for i in range(reruns)],
        "per_run": runs,
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
    parser.add_argument("extra", nargs="*",
                        help="arguments for local_runner.py (after --)")
    args = parser.parse_args()
    data_dir = os.path.abspath(args.data_dir)
    runs = common.repeat(
        args.runs, lambda: run_once(data_dir, args.extra, args.reruns),
        ("wall_seconds", "peak_rss_mb", "eval_metrics", "reruns"))
    command = " ".join(["benchmarks/pipeline_benchmark.py", *sys.argv[1:]])
    common.write_report(os.path.join(RESULTS, args.name + ".json"),
                        summarize(args.name, command, runs, data_dir,
                                  args.extra))


if __name__ == "__main__":
    main()
