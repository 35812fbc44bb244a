"""Benchmark: the whole pipeline per data size and objective, for
benchmarks/results/scale.json (issue 23).

    .venv/bin/python benchmarks/scale_benchmark.py --size ml-100k \
        --data-dir data/ml-100k --runs 3
    .venv/bin/python benchmarks/scale_benchmark.py --size ml-1m \
        --data-dir data/synthetic-ml-1m --runs 1
    .venv/bin/python benchmarks/scale_benchmark.py --size ml-10m \
        --data-dir data/synthetic-ml-10m --objectives ranking --runs 1

Each run is a fresh `local_runner.py` process in a fresh output root, with
the user-stratified split (each user's ratings 75/25, as Microsoft
Recommenders' benchmarks); the rating objective runs `--recipe fast`, the
ranking objective its defaults. With several objectives the runs alternate
(rating, ranking, rating, ...), so on ML-100k the ratio of their median
wall times, `ratio_ranking_over_rating_wall_ml100k`, is measured within one
invocation. Arguments after `--` go to every local_runner.py call.

`--shared-root DIR` runs every objective in that one output root instead of
a fresh one each: a later objective takes CsvExampleGen, StatisticsGen and
the data checks from the earlier one's cache (Transform and what follows
differ per objective and run). Its entry says so (`shared_root`), and those
components show 0 s: their cost is the earlier objective's. It is how the
ML-20m size is measured in one session (with `-- --stop-after Trainer`).

Each finished run updates --out at once (a long invocation that is cut
short keeps what it measured).

`--markdown` prints the table of --out that docs/benchmarks.md shows, and
runs nothing.

Updates --out in place: the entry of each (size, objective) measured now
replaces the one before; others stay. Each entry: medians over the runs of
wall seconds, peak RSS (the largest process of the run), seconds per
component and per component and million ratings; the TopKEvaluator's
ndcg@10 and precision@10 of the model, of popularity and, for ranking, of
EASE alone on the same pool; the number of ratings and of evaluated users.
"""
import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import common  # noqa: E402
from benchmarks.pipeline_benchmark import (run_figures,  # noqa: E402
                                           timed_run)
from components.topk_evaluator import evaluate  # noqa: E402
from components.topk_evaluator.executor import read_evaluation  # noqa: E402
from pipeline import configs  # noqa: E402
from runtime import metadata_report  # noqa: E402
import movielens_features as features  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results")
SIZES = ("ml-100k", "ml-1m", "ml-10m", "ml-20m")
# What local_runner.py is given per objective.
OBJECTIVE_ARGS = {
    features.RATING_OBJECTIVE: ["--recipe", "fast"],
    features.RANKING_OBJECTIVE: ["--objective", features.RANKING_OBJECTIVE],
}
RATIO_KEY = "ratio_ranking_over_rating_wall_ml100k"


def run_once(data_dir: str, objective: str, extra_args: List[str],
             shared_root: Optional[str] = None) -> Dict:
    """One pipeline run (in a fresh output root, or shared_root): wall,
    peak memory, component seconds and the TopKEvaluator's figures."""
    with output_root_for(shared_root) as output_root:
        command = [sys.executable, os.path.join(REPO, "local_runner.py"),
                   "--data-dir", data_dir, "--output-root", output_root,
                   "--split", configs.USER_STRATIFIED_SPLIT,
                   *OBJECTIVE_ARGS[objective], *extra_args]
        wall, peak_kib = timed_run(command)
        store = metadata_report.open_store(os.path.join(
            output_root, "metadata", configs.PIPELINE_NAME, "metadata.db"))
        topk = metadata_report.latest_evaluation_uri(
            store, configs.TOPK_EVALUATOR_ID)
        # None after `-- --stop-after Trainer`: trained and exported only.
        return {**run_figures(store, wall, peak_kib),
                **model_sizes(store),
                **(topk_figures(read_evaluation(topk)) if topk else {})}


@contextlib.contextmanager
def output_root_for(shared_root: Optional[str]) -> Iterator[str]:
    """shared_root (kept), or a temporary folder removed afterwards."""
    if shared_root:
        os.makedirs(shared_root, exist_ok=True)
        yield shared_root
        return
    with tempfile.TemporaryDirectory(prefix="scale-") as output_root:
        yield output_root


def model_sizes(store) -> Dict:
    """Bytes of the exported model's graph (saved_model.pb) and of its
    variables: the history tables are variables, so the graph stays small
    at any size (protobuf caps a graph at 2 GB)."""
    model = metadata_report.latest_output(store, configs.TRAINER_ID, "model")
    serving = os.path.join(model.uri, "Format-Serving")
    variables = os.path.join(serving, "variables")
    return {
        "saved_model_pb_bytes": os.path.getsize(
            os.path.join(serving, "saved_model.pb")),
        "saved_model_variables_bytes": sum(
            os.path.getsize(os.path.join(variables, name))
            for name in os.listdir(variables)),
    }


def topk_figures(evaluation: Dict) -> Dict:
    """ndcg@10 and precision@10 of the model, popularity and (if present)
    EASE alone, their 95 % intervals when a sample of users was ranked, the
    model's RMSE (rating objective), and how many users were ranked."""
    figures = {"eval_users": evaluation["pool"]["users"]}
    sample = evaluation.get("sample")
    for ranker, prefix in ((evaluate.MODEL, ""),
                           (evaluate.POPULARITY, "popularity_"),
                           (evaluate.EASE, "ease_")):
        if ranker in evaluation:
            for metric in ("ndcg", "precision"):
                name = f"{prefix}{metric}@{evaluation['k']}"
                figures[name] = round(evaluation[ranker][f"{metric}@k"], 4)
                if sample:
                    figures[f"{name}_ci95"] = sample["intervals"][ranker][
                        f"{metric}@k"]
    if "rmse" in evaluation[evaluate.MODEL]:
        figures["rmse"] = round(evaluation[evaluate.MODEL]["rmse"], 4)
    return figures


def count_ratings(data_dir: str) -> int:
    """Ratings in the pipeline CSVs of data_dir (lines less headers)."""
    total = 0
    for name in os.listdir(data_dir):
        if name.endswith(".csv"):
            with open(os.path.join(data_dir, name), "rb") as handle:
                total += sum(1 for _ in handle) - 1
    return total


def summarize(size: str, objective: str, runs: List[Dict], ratings: int,
              command: str, shared_root: bool = False) -> Dict:
    """One scale.json entry: medians over the runs."""
    components = runs[0]["component_seconds"]
    per_component = {name: statistics.median(
        r["component_seconds"][name] for r in runs) for name in components}
    metrics = common.medians([{key: value for key, value in r.items()
                               if ("@" in key and "ci95" not in key)
                               or key == "rmse"} for r in runs])
    sizes = {key: statistics.median(r[key] for r in runs)
             for key in ("saved_model_pb_bytes",
                         "saved_model_variables_bytes") if key in runs[0]}
    return {
        "size": size, "objective": objective, "runs": len(runs),
        "command": command, "date": time.strftime("%Y-%m-%d"),
        "ratings": ratings,
        **({"shared_root": True} if shared_root else {}),
        "eval_users": runs[0].get("eval_users"),
        **sizes,
        "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
        "component_seconds": per_component,
        "component_seconds_per_million_ratings": {
            name: round(seconds * 1e6 / ratings, 1)
            for name, seconds in per_component.items()},
        **metrics,
        "per_run": runs,
    }


def merge(path: str, entries: List[Dict], ratio) -> Dict:
    """scale.json with `entries` replacing those of the same size and
    objective, sorted by size then objective."""
    report = common.read_json(path) if os.path.exists(path) else {"runs": []}
    fresh = {(e["size"], e["objective"]) for e in entries}
    kept = [e for e in report["runs"]
            if (e["size"], e["objective"]) not in fresh]
    report["runs"] = sorted(kept + entries, key=lambda e: (
        SIZES.index(e["size"]), e["objective"]))
    if ratio is not None:
        report[RATIO_KEY] = ratio
    report["machine"] = {"cpus": os.cpu_count(),
                         "python": platform.python_version(),
                         "platform": platform.platform()}
    return report


# The components the table shows, per million ratings.
TABLE_COMPONENTS = (configs.EXAMPLE_GEN_ID, configs.NEGATIVE_SAMPLER_ID,
                    configs.TRANSFORM_ID, configs.TRAINER_ID,
                    configs.EVALUATOR_ID, configs.TOPK_EVALUATOR_ID)


def markdown_table(report: Dict) -> str:
    """scale.json's entries as the markdown table of docs/benchmarks.md."""
    def cell(entry, key):
        value = entry.get(key)
        return "" if value is None else f"{value:.4f}"
    header = ["size", "objective", "runs", "wall s", "peak RSS MB",
              *(f"{name} s/M" for name in TABLE_COMPONENTS),
              "ndcg@10", "precision@10", "EASE alone", "popularity",
              "SavedModel graph / variables MB"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for entry in report["runs"]:
        per_million = entry["component_seconds_per_million_ratings"]
        ease = (f"{cell(entry, 'ease_ndcg@10')} / "
                f"{cell(entry, 'ease_precision@10')}"
                if "ease_ndcg@10" in entry else "")
        # † upstream components from an earlier objective's cache.
        objective = entry["objective"] + (" †" if entry.get("shared_root")
                                          else "")
        row = [entry["size"], objective, str(entry["runs"]),
               f"{entry['wall_seconds']:.0f}", f"{entry['peak_rss_mb']:,.0f}",
               *(f"{per_million[name]:.0f}" if name in per_million else "–"
                 for name in TABLE_COMPONENTS),
               cell(entry, "ndcg@10"), cell(entry, "precision@10"), ease,
               f"{cell(entry, 'popularity_ndcg@10')} / "
               f"{cell(entry, 'popularity_precision@10')}"
               if "popularity_ndcg@10" in entry else "",
               f"{entry['saved_model_pb_bytes'] / 1e6:.1f} / "
               f"{entry['saved_model_variables_bytes'] / 1e6:.1f}"
               if "saved_model_pb_bytes" in entry else ""]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", action="store_true",
                        help="print --out's table for docs/benchmarks.md "
                             "and stop")
    parser.add_argument("--size", choices=SIZES,
                        help="which release's shape the data has")
    parser.add_argument("--data-dir",
                        help="folder of pipeline CSVs (python -m "
                             "movielens_data)")
    parser.add_argument("--objectives", nargs="+",
                        default=list(features.OBJECTIVES),
                        choices=features.OBJECTIVES,
                        help="objectives to run, alternating (default: both)")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs per objective (default 1)")
    parser.add_argument("--out", default=os.path.join(RESULTS, "scale.json"),
                        help="the JSON to update (default "
                             "benchmarks/results/scale.json)")
    parser.add_argument("--shared-root",
                        help="one output root for every run: later "
                             "objectives reuse the upstream components")
    parser.add_argument("extra", nargs="*",
                        help="arguments for local_runner.py (after --)")
    args = parser.parse_args()
    if args.markdown:
        print(markdown_table(common.read_json(args.out)))
        return
    if not (args.size and args.data_dir):
        parser.error("--size and --data-dir are required (but with "
                     "--markdown)")
    data_dir = os.path.abspath(args.data_dir)
    ratings = count_ratings(data_dir)
    command = " ".join(["benchmarks/scale_benchmark.py", *sys.argv[1:]])
    results = {objective: [] for objective in args.objectives}
    for index in range(args.runs):
        for objective in args.objectives:
            print(f"{args.size} {objective}: run {index + 1}/{args.runs} ...",
                  flush=True)
            results[objective].append(run_once(data_dir, objective,
                                                args.extra, args.shared_root))
            print({key: value for key, value in results[objective][-1].items()
                   if key != "component_seconds"}, flush=True)
            write(args, results, ratings, command)


def write(args: argparse.Namespace, results: Dict[str, List[Dict]],
          ratings: int, command: str) -> None:
    """--out with the entries of every objective run so far."""
    entries = [summarize(args.size, objective, runs, ratings, command,
                         bool(args.shared_root))
               for objective, runs in results.items() if runs]
    ratio = None
    if args.size == "ml-100k" and len(entries) == 2:
        walls = {e["objective"]: e["wall_seconds"] for e in entries}
        ratio = round(walls[features.RANKING_OBJECTIVE]
                      / walls[features.RATING_OBJECTIVE], 2)
    common.write_report(args.out, merge(args.out, entries, ratio))


if __name__ == "__main__":
    main()
