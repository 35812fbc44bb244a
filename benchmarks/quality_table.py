"""The quality table of MovieLens-100k: both objectives x both splits, from
the pipeline benchmarks' JSON, beside published figures of other models.

    .venv/bin/python benchmarks/quality_table.py

Reads (benchmarks/results/, written by pipeline_benchmark.py, medians of 3):
  pipeline_ml100k.json                   rating objective, random split
  pipeline_stratified_ml100k.json        rating objective, user-stratified
  pipeline_ranking_ml100k.json           ranking objective, random split
  pipeline_ranking_stratified_ml100k.json ranking objective, user-stratified
and writes quality_ml100k.json and the markdown table docs/benchmarks.md
shows. A missing input is named, not skipped.

The published rows are Microsoft Recommenders' MovieLens-100k benchmark
table (examples/06_benchmarks/movielens.ipynb, as quoted in issue 15):
another code base, its own training and evaluation code, on a per-user
stratified 75/25 split with seed 42 whose rows are not the ones this
project's split picks (the semantics are the same, the random numbers are
not). They are context, not a measurement of this project.
"""
import argparse
import os
import sys
from typing import Any, Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import common  # noqa: E402
from pipeline import configs  # noqa: E402
import movielens_features as features  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")
# (objective, split) -> the pipeline benchmark's result file.
SOURCES = {
    (features.RATING_OBJECTIVE, configs.RANDOM_SPLIT): "pipeline_ml100k.json",
    (features.RATING_OBJECTIVE, configs.USER_STRATIFIED_SPLIT):
        "pipeline_stratified_ml100k.json",
    (features.RANKING_OBJECTIVE, configs.RANDOM_SPLIT):
        "pipeline_ranking_ml100k.json",
    (features.RANKING_OBJECTIVE, configs.USER_STRATIFIED_SPLIT):
        "pipeline_ranking_stratified_ml100k.json",
}
PUBLISHED_SOURCE = (
    "Microsoft Recommenders, MovieLens-100k benchmark "
    "(examples/06_benchmarks/movielens.ipynb): published figures from "
    "another code base, user-stratified 75/25 split, seed 42")
# model -> (precision@10, ndcg@10)
PUBLISHED = {"BiVAE": (0.412, 0.475), "BPR": (0.388, 0.442),
             "LightGCN": (0.380, 0.420), "NCF": (0.347, 0.396),
             "SAR": (0.331, 0.382)}


def pipeline_row(objective: str, split: str, result: Dict[str, Any]
                 ) -> Dict[str, Any]:
    """One measured row: medians over the benchmark's runs."""
    model = result["topk_median"]["model"]
    popularity = result["topk_median"]["popularity"]
    rmse = result["eval_metrics_median"].get("root_mean_squared_error")
    return {
        "source": f"this pipeline, --objective {objective} --split {split}",
        "objective": objective, "split": split,
        "runs": len(result["per_run"]),
        "precision@10": model["precision@k"], "ndcg@10": model["ndcg@k"],
        "map@10": model["map@k"], "recall@10": model["recall@k"],
        "rmse": rmse,
        "popularity_precision@10": popularity["precision@k"],
        "popularity_ndcg@10": popularity["ndcg@k"],
        "command": result["command"],
    }


def build_table(results_dir: str) -> Dict[str, Any]:
    """Every measured row and the published ones; a missing file is an
    error naming it."""
    rows = []
    for (objective, split), name in SOURCES.items():
        path = os.path.join(results_dir, name)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path}: missing; run benchmarks/pipeline_benchmark.py for "
                f"--objective {objective} --split {split} (see this "
                f"script's docstring)")
        rows.append(pipeline_row(objective, split, common.read_json(path)))
    return {"benchmark": "quality_ml100k", "k": 10, "measured": rows,
            "published": {"source": PUBLISHED_SOURCE, "rows": [
                {"model": model, "precision@10": precision, "ndcg@10": ndcg}
                for model, (precision, ndcg) in PUBLISHED.items()]}}


def markdown(table: Dict[str, Any]) -> str:
    """The table docs/benchmarks.md shows."""
    lines = ["| model | split | runs | precision@10 | ndcg@10 | rmse |",
             "|---|---|---|---|---|---|"]
    for row in table["measured"]:
        lines.append(
            f"| this pipeline, {row['objective']} objective | {row['split']}"
            f" | {row['runs']} | {row['precision@10']:.3f} | "
            f"{row['ndcg@10']:.3f} | {_optional(row['rmse'])} |")
    for row in table["published"]["rows"]:
        lines.append(f"| {row['model']} (published, Recommenders) | "
                     f"user_stratified | | {row['precision@10']:.3f} | "
                     f"{row['ndcg@10']:.3f} | |")
    return "\n".join(lines)


def _optional(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.4f}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default=RESULTS)
    parser.add_argument("--out", default=os.path.join(RESULTS,
                                                      "quality_ml100k.json"))
    args = parser.parse_args(argv)
    table = build_table(args.results_dir)
    common.write_report(args.out, table)
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
