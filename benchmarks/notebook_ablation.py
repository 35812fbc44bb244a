"""Benchmark: why the pipeline's seed model ranks below the notebook's
(issue 23, deliverable 5), one difference at a time, on one split.

    .venv/bin/python benchmarks/notebook_ablation.py \
        --examples <CsvExampleGen output folder> --runs 3

The pipeline's seed rating model and the notebook's differ, beside the
vocabularies (ruled out before: docs/benchmarks.md), in the canned
estimator's version (TF2's `tf.estimator` with Keras optimizers against the
notebook's `tf.compat.v1` one with `tf.train` optimizers) and in the
shuffle (the whole train split every epoch against a 1,000-row buffer).
notebook_baseline.py runs the notebook's recipe with each swapped for the
pipeline's: `v1` (the notebook as written), `v2` (the TF2 estimator),
`full_shuffle`, and `v2_full_shuffle` (both: the pipeline's model in the
notebook's harness). The variants alternate within each round, so machine
load falls on all alike. Writes per-run figures and per-variant medians
(RMSE on the eval split; ndcg@k and precision@k, k = 10, over every
unseen pair).
"""
import argparse
import os
import statistics
import sys
import time
from typing import Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import common, notebook_baseline  # noqa: E402

# name -> (estimator version, full shuffle)
VARIANTS = {
    "v1": (notebook_baseline.V1, False),
    "v2": (notebook_baseline.V2, False),
    "full_shuffle": (notebook_baseline.V1, True),
    "v2_full_shuffle": (notebook_baseline.V2, True),
}
METRICS = ("rmse", "ndcg@k", "precision@k")
DEFAULT_OUT = os.path.join(REPO, "benchmarks", "results",
                           "notebook_ablation_ml100k.json")


def run_variant(examples: str, name: str) -> Dict:
    """One notebook_baseline run of a variant: its metrics and seconds."""
    version, full_shuffle = VARIANTS[name]
    result = notebook_baseline.run(examples, estimator=version,
                                   full_shuffle=full_shuffle)
    return {"variant": name,
            **{metric: result["metrics"][metric] for metric in METRICS},
            "train_seconds": result["seconds"]["train"]}


def medians_by_variant(runs: List[Dict]) -> Dict[str, Dict[str, float]]:
    """Per variant, the median of each metric over its runs."""
    return {name: {metric: round(statistics.median(
        r[metric] for r in runs if r["variant"] == name), 4)
        for metric in METRICS}
        for name in dict.fromkeys(r["variant"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", required=True,
                        help="CsvExampleGen output folder (Split-train, "
                             "Split-eval): `local_runner.py --stop-after "
                             "CsvExampleGen`")
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds; each runs every variant once")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS),
                        default=list(VARIANTS))
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--append", action="store_true",
                        help="keep the runs already in --out")
    args = parser.parse_args()
    command = " ".join(["benchmarks/notebook_ablation.py", *sys.argv[1:]])
    earlier = (common.read_json(args.out)
               if args.append and os.path.exists(args.out) else {})
    runs = earlier.get("runs", [])
    for index in range(args.runs):
        for name in args.variants:
            runs.append(run_variant(args.examples, name))
            print(f"round {index + 1}: {runs[-1]}", flush=True)
    names = list(dict.fromkeys(r["variant"] for r in runs))
    common.write_report(args.out, {
        "benchmark": "notebook_ablation",
        "commands": earlier.get("commands", []) + [command],
        "date": time.strftime("%Y-%m-%d"),
        "variants": {name: {"estimator": VARIANTS[name][0],
                            "full_shuffle": VARIANTS[name][1]}
                     for name in names},
        "runs": runs,
        "medians": medians_by_variant(runs),
    })


if __name__ == "__main__":
    main()
