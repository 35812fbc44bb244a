"""The report's facts: what a local run did and how good its model is,
gathered from the run's ML Metadata store and artifacts into one dict
(gather_report), which report_page renders and report draws figures from.

A missing store, run or artifact raises ReportError naming it.
"""
import contextlib
import datetime
import os
from typing import Dict, Iterator, List, Optional, Tuple

from pipeline import configs
from trainer_module import objectives
from movielens_features import RATING_OBJECTIVE

NO_GENRE = "(no genre)"
# A genre slice with fewer eval examples says little: the report shows it
# but lets it set no axis of the per-genre figure.
MIN_SLICE_EXAMPLES = 20


class ReportError(Exception):
    """The store, the run or an artifact the report needs is missing."""


# ---------------------------------------------------------------- gathering

def gather_report(output_root: str, pipeline_name: str,
                  run_id: Optional[str] = None) -> Dict:
    """Everything the page shows, from the run's metadata and artifacts:
    the newest run's, or run_id's (the store as that run left it)."""
    from reporting import run_info
    from runtime import metadata_report
    try:
        store = metadata_report.open_existing_store(
            configs.LocalPaths(output_root, pipeline_name).metadata_path)
    except FileNotFoundError as error:
        raise ReportError(str(error)) from None
    run_id, started = pick_run(store, run_id)
    try:
        as_of = metadata_report.run_last_execution(store, run_id)
    except ValueError as error:
        raise ReportError(str(error)) from None
    components = metadata_report.component_runs(store, run_id)
    report = {"pipeline": pipeline_name, "run_id": run_id,
              "started": started, "components": components,
              "cached_rerun": metadata_report.pusher_was_cached(components)}
    report.update(topk_results(store, as_of))
    with _reading("the Trainer's custom_config in the metadata store"):
        objective = run_info.model_objective(store, report["model_uri"])
    report["objective"] = objective
    tfma_uri = _required(metadata_report.latest_evaluation_uri(
        store, as_of=as_of), "the Evaluator's (TFMA) evaluation")
    with _reading("the TFMA evaluation " + tfma_uri):
        report["tfma_uri"] = tfma_uri
        report["tfma_overall"] = metadata_report.overall_metrics(tfma_uri)
        report["slices"] = slice_metrics(tfma_uri, objective)
    report["tfma_blessed"] = metadata_report.latest_blessing(
        store, configs.EVALUATOR_ID, as_of)
    report["push"] = push_result(store, as_of)
    report["served"] = served_standing(store, as_of, report)
    if objectives.get(objective).eval_negatives_per_positive:
        # TFMA judged the NegativeSampler's pairs.
        report.update(eval_pairs(store, report["model_uri"], as_of))
    else:
        report["eval_ratings"] = eval_ratings(store, report["model_uri"],
                                              as_of)
    model_run = _required(metadata_report.latest_output(
        store, configs.TRAINER_ID, "model_run", as_of),
        "the Trainer's model_run").uri
    with _reading("the Trainer's TensorBoard events in " + model_run):
        report["model_run_uri"] = model_run
        report["loss"] = read_loss(model_run)
    return report


def pick_run(store, run_id: Optional[str] = None
             ) -> Tuple[str, datetime.datetime]:
    """Id and start time (UTC) of the run: run_id, or the store's newest."""
    from runtime import metadata_report
    ids = metadata_report.run_ids(store)
    if not ids:
        raise ReportError("the metadata store holds no pipeline run")
    if run_id is None:
        run_id = ids[-1]
    elif run_id not in ids:
        raise ReportError(f"--run-id {run_id}: no such run in the metadata "
                          f"store; its runs: {', '.join(ids[-5:])}"
                          + (" (the newest five)" if len(ids) > 5 else ""))
    context = store.get_context_by_type_and_name("pipeline_run", run_id)
    started = datetime.datetime.fromtimestamp(
        context.create_time_since_epoch / 1000, tz=datetime.timezone.utc)
    return run_id, started


def topk_results(store, as_of: Optional[int] = None) -> Dict:
    """The TopKEvaluator's metrics.json and what its blessing names."""
    from components.topk_evaluator.executor import read_evaluation
    from runtime import metadata_report
    uri = _required(metadata_report.latest_evaluation_uri(
        store, configs.TOPK_EVALUATOR_ID, as_of),
        "the TopKEvaluator's evaluation")
    with _reading("the TopKEvaluator's metrics.json in " + uri):
        metrics = read_evaluation(uri)
    blessing = _required(metadata_report.latest_output(
        store, configs.TOPK_EVALUATOR_ID, "blessing", as_of),
        "the TopKEvaluator's blessing")
    props = blessing.custom_properties
    if "current_model" in props:
        model_uri = props["current_model"].string_value
    else:  # a blessing written before the property existed
        model_uri = _required(metadata_report.latest_output(
            store, configs.TRAINER_ID, "model", as_of),
            "the Trainer's model").uri
    return {"topk": metrics, "topk_uri": uri, "model_uri": model_uri,
            # Kubeflow v2 may judge the served model against itself.
            "model_is_baseline": ("baseline_model_id" in props
                                  and props["baseline_model_id"].int_value
                                  == props["current_model_id"].int_value),
            "baseline_uri": (props["baseline_model"].string_value
                             if "baseline_model" in props else None)}


def slice_metrics(evaluation_uri: str,
                  objective: str = RATING_OBJECTIVE) -> List[Dict]:
    """Per-genre example_count and the objective's slice columns (rating:
    rmse, mae; ranking: auc, binary_accuracy, mean_label, mean_prediction)
    from TFMA, None where TFMA has no value; most examples first."""
    import tensorflow_model_analysis as tfma
    from movielens_features import GENRE_SLICE_KEY
    rows = []
    for slice_key, metrics in tfma.load_eval_result(
            evaluation_uri).slicing_metrics:
        if len(slice_key) != 1 or slice_key[0][0] != GENRE_SLICE_KEY:
            continue
        values = {name: value.get("doubleValue")
                  for name, value in metrics[""][""].items()}
        row = {"slice": str(slice_key[0][1]) or NO_GENRE,
               "example_count": int(values["example_count"])}
        for column, name in objectives.get(objective).report.slice_columns:
            row[column] = values.get(name)
        if "auc" in row and values.get("mean_label") in (0.0, 1.0):
            row["auc"] = None  # one class only: TFMA's 0 is no AUC
        rows.append(row)
    return sorted(rows, key=lambda row: (-row["example_count"], row["slice"]))


def push_result(store, as_of: Optional[int] = None) -> Dict:
    """Whether the run's Pusher pushed, where, and what is served now."""
    from runtime import metadata_report
    artifact = metadata_report.latest_output(store, configs.PUSHER_ID,
                                             "pushed_model", as_of)
    props = artifact.custom_properties if artifact is not None else {}
    pushed = "pushed" in props and props["pushed"].int_value == 1
    return {"pushed": pushed,
            "destination": (props["pushed_destination"].string_value
                            if pushed else None),
            # A model already served: the Pusher copied nothing.
            "already_served": pushed and "already_served" in props
            and props["already_served"].int_value == 1,
            "served": metadata_report.latest_pushed_model(store, as_of)}


def served_standing(store, as_of: Optional[int], report: Dict
                    ) -> Optional[Dict]:
    """The served model (version, folder, when and by which run it was
    pushed) with the TopKEvaluator and TFMA metrics that judged it; None
    when nothing is served. Read from the push that copied it, so a cached
    re-run shows the model it left in place."""
    from components.topk_evaluator.executor import read_evaluation
    from runtime import metadata_report
    served = metadata_report.served_model(store, as_of)
    if served is None:
        return None
    standing = {"model": served, "topk": None, "tfma_overall": None}
    if served.topk_uri == report.get("topk_uri"):
        standing["topk"] = report["topk"]
    elif served.topk_uri:
        with _reading("the served model's top-k evaluation "
                      + served.topk_uri):
            standing["topk"] = read_evaluation(served.topk_uri)
    if served.tfma_uri == report.get("tfma_uri"):
        standing["tfma_overall"] = report["tfma_overall"]
    elif served.tfma_uri:
        with _reading("the served model's TFMA evaluation "
                      + served.tfma_uri):
            standing["tfma_overall"] = metadata_report.overall_metrics(
                served.tfma_uri)
    return standing


def eval_ratings(store, model_uri: str, as_of: Optional[int] = None) -> Dict:
    """The eval split's true ratings and the model's predictions for them."""
    import numpy as np
    from runtime import metadata_report
    import movielens_features as features
    examples = _required(metadata_report.latest_examples(store, as_of=as_of),
                         "CsvExampleGen's examples")
    rows, predicted, _ = _score_eval_split(examples, model_uri)
    return {"true": rows[features.LABEL_KEY].to_numpy(np.float64),
            "predicted": predicted.astype(np.float64)}


def _score_eval_split(examples, model_uri: str):
    """(eval rows, the model's predictions, its scores) for an Examples
    artifact's eval split."""
    import numpy as np
    from tfx.utils import path_utils
    from recommender import data
    from recommender.scoring import ModelScorer
    import movielens_features as features
    with _reading(f"the eval split of {examples.uri}"):
        rows = data.read_split(examples, configs.EVAL_SPLIT)
    with _reading("the Trainer's model " + model_uri):
        predictions, scores = ModelScorer(path_utils.serving_model_path(
            model_uri)).predict(
                rows[features.USER_KEY].to_numpy(np.int64),
                rows[features.ITEM_KEY].to_numpy(np.int64),
                rows[features.GENRES_KEY].to_numpy(object))
    return rows, predictions, scores


def eval_pairs(store, model_uri: str, as_of: Optional[int] = None) -> Dict:
    """The ranking objective's eval split (the NegativeSampler's: rated
    pairs, label 1, and sampled unrated ones, label 0, as TFMA evaluated
    them) with the model's probability and logit for each pair."""
    import numpy as np
    from tfx.types import standard_artifacts
    from runtime import metadata_report
    import movielens_features as features
    found = _required(metadata_report.latest_output(
        store, configs.NEGATIVE_SAMPLER_ID, "sampled_examples", as_of),
        "NegativeSampler's sampled examples")
    examples = standard_artifacts.Examples()
    examples.uri = found.uri
    examples.split_names = found.properties["split_names"].string_value
    rows, probability, score = _score_eval_split(examples, model_uri)
    # A sampled negative's rating is 0.0, below any real rating.
    label = (rows[features.LABEL_KEY].to_numpy(np.float64)
             >= features.RATING_MIN).astype(np.int64)
    return {"sampled_uri": found.uri,
            "eval_pairs": {"label": label,
                           "probability": probability.astype(np.float64),
                           "score": score.astype(np.float64)}}


def read_loss(model_run_uri: str) -> Dict[str, List[Tuple[int, float]]]:
    """(step, loss) of the "loss" scalar: training events in the folder,
    evaluation events in its eval* sub-folders (estimator: eval_<name>)."""
    import tensorflow as tf
    found = {}
    for name, pattern in (("train", "events.out.tfevents.*"),
                          ("eval", os.path.join("eval*",
                                                "events.out.tfevents.*"))):
        points = {}
        for path in sorted(tf.io.gfile.glob(os.path.join(model_run_uri,
                                                         pattern))):
            points.update(_scalar_points(path, "loss"))
        found[name] = sorted(points.items())
    return found


def _scalar_points(event_file: str, tag: str) -> Dict[int, float]:
    import tensorflow as tf
    points = {}
    for event in tf.compat.v1.train.summary_iterator(event_file):
        for value in event.summary.value:
            if value.tag != tag:
                continue
            if value.WhichOneof("value") == "simple_value":
                points[event.step] = float(value.simple_value)
            elif value.WhichOneof("value") == "tensor":
                points[event.step] = float(tf.make_ndarray(value.tensor))
    return points


def _required(found, what: str):
    if found is None:
        raise ReportError(f"the latest run has no {what} (did the pipeline "
                          f"stop before it? run `python local_runner.py`)")
    return found


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turns a failed read of an artifact into a ReportError naming it."""
    import tensorflow as tf
    try:
        yield
    except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
        raise ReportError(f"cannot read {what}: "
                          f"{type(error).__name__}: {error}") from error


def objective_of(report: Dict) -> str:
    """The run's training objective; a report dict gathered before
    objectives existed is a rating run's."""
    return report.get("objective", RATING_OBJECTIVE)
