"""Benchmark: the TopKEvaluator's ranking on its own, at any pool size.

    .venv/bin/python benchmarks/topk_benchmark.py \\
        --model-dir outputs/serving_model/movielens-wide-deep/<version> \\
        --data-dir data/synthetic-1m --runs 3

Splits the data 75/25 (seeded), then runs components/topk_evaluator's
`evaluate` with the given exported model (scoring, ranking and metrics in
Beam, exactly as in the pipeline). Each run is a fresh process; the JSON
holds medians of wall time, pairs per second and peak RSS. With MovieLens-1m
sized data (6,040 users x 3,706 items) the pool is about 21.6 million pairs,
which shows whether memory stays bounded as the pool grows.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Dict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import common  # noqa: E402

# One measured run, in a child process so that its peak RSS is its own.
_CHILD = r"""
import json, resource, sys, tempfile, time
import apache_beam as beam
import numpy as np
import pandas as pd
from apache_beam.options.pipeline_options import PipelineOptions
from components.topk_evaluator import evaluate

model_dir, data_dir, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
ratings = pd.read_csv(f"{data_dir}/ratings.csv", keep_default_na=False)
is_eval = np.random.default_rng(123).random(len(ratings)) < 0.25
train, eval_ = ratings[~is_eval], ratings[is_eval]
options = PipelineOptions(["--direct_running_mode=in_memory",
                           "--direct_num_workers=1"])
started = time.time()
with tempfile.TemporaryDirectory() as tmp:
    result = evaluate.evaluate(train, eval_, model_dir, None, k,
                               lambda: beam.Pipeline(options=options), tmp)
result["wall_seconds"] = round(time.time() - started, 1)
result["peak_rss_mb"] = round(
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print("RESULT=" + json.dumps(result))
"""


def run_once(model_dir: str, data_dir: str, k: int) -> Dict:
    result = subprocess.run([sys.executable, "-c", _CHILD, model_dir,
                             data_dir, str(k)], cwd=REPO, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"benchmark run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.rsplit("RESULT=", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True,
                        help="an exported model (a pushed version or a "
                             "Trainer's Format-Serving directory)")
    parser.add_argument("--data-dir", required=True,
                        help="a folder with the pipeline's ratings.csv")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default=os.path.join(
        REPO, "benchmarks", "results", "topk_scale.json"))
    args = parser.parse_args()
    runs = common.repeat(
        args.runs, lambda: run_once(os.path.abspath(args.model_dir),
                                    os.path.abspath(args.data_dir), args.k),
        ("pool", "timing", "wall_seconds", "peak_rss_mb"))
    report = {
        "benchmark": "topk_scale",
        "command": f"benchmarks/topk_benchmark.py --model-dir <model> "
                   f"--data-dir {os.path.relpath(args.data_dir, REPO)} "
                   f"--k {args.k} --runs {args.runs} --output "
                   f"{os.path.relpath(args.output, REPO)}",
        "machine": {"cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "runs": args.runs,
        "pool": runs[0]["pool"],
        "wall_seconds_median": statistics.median(
            r["wall_seconds"] for r in runs),
        "ranking_seconds_median": statistics.median(
            r["timing"]["ranking_seconds"] for r in runs),
        "pairs_per_second_median": statistics.median(
            r["timing"]["pairs_per_second"] for r in runs),
        "peak_rss_mb_median": statistics.median(
            r["peak_rss_mb"] for r in runs),
        "per_run": [{key: r[key] for key in
                     ("timing", "wall_seconds", "peak_rss_mb")}
                    for r in runs],
    }
    common.write_report(args.output, report)


if __name__ == "__main__":
    main()
