"""The report's facts: what a local run did and how good its model is,
gathered from the run's ML Metadata store and artifacts into one dict
(gather_report), which report_page renders and report draws figures from.

A missing store, run or artifact raises ReportError naming it.
"""
import contextlib
import datetime
import os
from typing import Dict, Iterator, List, NamedTuple, Tuple

from pipeline import configs
from trainer_module.features import RANKING_OBJECTIVE, RATING_OBJECTIVE

# TFMA's metric names, in the order the report lists them.
TFMA_METRICS = ("example_count", "root_mean_squared_error",
                "mean_absolute_error", "mean_squared_error")
TFMA_RANKING_METRICS = ("example_count", "auc", "binary_accuracy",
                        "mean_label", "mean_prediction")
NO_GENRE = "(no genre)"


class ObjectiveView(NamedTuple):
    """What the page shows of an objective's TFMA metrics."""
    title: str  # for the header
    tfma_order: Tuple[str, ...]  # overall table order (others follow)
    slice_columns: Tuple[Tuple[str, str], ...]  # (column, TFMA metric)
    headline: str  # the slice column of the per-genre figure and delta


VIEWS = {
    RATING_OBJECTIVE: ObjectiveView(
        "rating (regression on the rating)", TFMA_METRICS,
        (("rmse", "root_mean_squared_error"), ("mae", "mean_absolute_error")),
        "rmse"),
    RANKING_OBJECTIVE: ObjectiveView(
        "ranking (classifier of rated vs sampled unrated pairs)",
        TFMA_RANKING_METRICS,
        (("auc", "auc"), ("binary_accuracy", "binary_accuracy"),
         ("mean_label", "mean_label"),
         ("mean_prediction", "mean_prediction")),
        "auc"),
}


class ReportError(Exception):
    """The store, the run or an artifact the report needs is missing."""


# ---------------------------------------------------------------- gathering

def gather_report(output_root: str, pipeline_name: str) -> Dict:
    """Everything the page shows, from the run's metadata and artifacts."""
    from reporting import run_info
    from runtime import metadata_report
    try:
        store = metadata_report.open_existing_store(
            configs.LocalPaths(output_root, pipeline_name).metadata_path)
    except FileNotFoundError as error:
        raise ReportError(str(error)) from None
    run_id, started = latest_run(store)
    report = {"pipeline": pipeline_name, "run_id": run_id,
              "started": started,
              "components": metadata_report.component_runs(store)}
    report.update(topk_results(store))
    with _reading("the Trainer's custom_config in the metadata store"):
        objective = run_info.model_objective(store, report["model_uri"])
    report["objective"] = objective
    tfma_uri = _required(metadata_report.latest_evaluation_uri(store),
                         "the Evaluator's (TFMA) evaluation")
    with _reading("the TFMA evaluation " + tfma_uri):
        report["tfma_uri"] = tfma_uri
        report["tfma_overall"] = metadata_report.overall_metrics(tfma_uri)
        report["slices"] = slice_metrics(tfma_uri, objective)
    report["tfma_blessed"] = metadata_report.latest_blessing(
        store, configs.EVALUATOR_ID)
    report["push"] = push_result(store)
    if objective == RANKING_OBJECTIVE:
        report.update(eval_pairs(store, report["model_uri"]))
    else:
        report["eval_ratings"] = eval_ratings(store, report["model_uri"])
    model_run = _required(metadata_report.latest_output(
        store, configs.TRAINER_ID, "model_run"), "the Trainer's model_run").uri
    with _reading("the Trainer's TensorBoard events in " + model_run):
        report["model_run_uri"] = model_run
        report["loss"] = read_loss(model_run)
    return report


def latest_run(store) -> Tuple[str, datetime.datetime]:
    """Id and start time (UTC) of the newest pipeline run in the store."""
    from runtime import metadata_report
    ids = metadata_report.run_ids(store)
    if not ids:
        raise ReportError("the metadata store holds no pipeline run")
    context = store.get_context_by_type_and_name("pipeline_run", ids[-1])
    started = datetime.datetime.fromtimestamp(
        context.create_time_since_epoch / 1000, tz=datetime.timezone.utc)
    return ids[-1], started


def topk_results(store) -> Dict:
    """The TopKEvaluator's metrics.json and what its blessing names."""
    from components.topk_evaluator.executor import read_evaluation
    from runtime import metadata_report
    uri = _required(metadata_report.latest_evaluation_uri(
        store, configs.TOPK_EVALUATOR_ID), "the TopKEvaluator's evaluation")
    with _reading("the TopKEvaluator's metrics.json in " + uri):
        metrics = read_evaluation(uri)
    blessing = _required(metadata_report.latest_output(
        store, configs.TOPK_EVALUATOR_ID, "blessing"),
        "the TopKEvaluator's blessing")
    props = blessing.custom_properties
    if "current_model" in props:
        model_uri = props["current_model"].string_value
    else:  # a blessing written before the property existed
        model_uri = _required(metadata_report.latest_output(
            store, configs.TRAINER_ID, "model"), "the Trainer's model").uri
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
    from trainer_module.features import GENRE_SLICE_KEY
    rows = []
    for slice_key, metrics in tfma.load_eval_result(
            evaluation_uri).slicing_metrics:
        if len(slice_key) != 1 or slice_key[0][0] != GENRE_SLICE_KEY:
            continue
        values = {name: value.get("doubleValue")
                  for name, value in metrics[""][""].items()}
        row = {"slice": str(slice_key[0][1]) or NO_GENRE,
               "example_count": int(values["example_count"])}
        for column, name in VIEWS[objective].slice_columns:
            row[column] = values.get(name)
        if objective == RANKING_OBJECTIVE and values.get("mean_label") in (
                0.0, 1.0):
            row["auc"] = None  # one class only: TFMA's 0 is no AUC
        rows.append(row)
    return sorted(rows, key=lambda row: (-row["example_count"], row["slice"]))


def push_result(store) -> Dict:
    """Whether this run's Pusher pushed, where, and what is served now."""
    from runtime import metadata_report
    artifact = metadata_report.latest_output(store, configs.PUSHER_ID,
                                             "pushed_model")
    pushed = (artifact is not None
              and artifact.custom_properties["pushed"].int_value == 1)
    return {"pushed": pushed,
            "destination": (artifact.custom_properties[
                "pushed_destination"].string_value if pushed else None),
            "served": metadata_report.latest_pushed_model(store)}


def eval_ratings(store, model_uri: str) -> Dict:
    """The eval split's true ratings and the model's predictions for them."""
    import numpy as np
    from runtime import metadata_report
    from trainer_module import features
    examples = _required(metadata_report.latest_examples(store),
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
    from trainer_module import features
    with _reading(f"the eval split of {examples.uri}"):
        rows = data.read_split(examples, configs.EVAL_SPLIT)
    with _reading("the Trainer's model " + model_uri):
        predictions, scores = ModelScorer(path_utils.serving_model_path(
            model_uri)).predict(
                rows[features.USER_KEY].to_numpy(np.int64),
                rows[features.ITEM_KEY].to_numpy(np.int64),
                rows[features.GENRES_KEY].to_numpy(object))
    return rows, predictions, scores


def eval_pairs(store, model_uri: str) -> Dict:
    """The ranking objective's eval split (the NegativeSampler's: rated
    pairs, label 1, and sampled unrated ones, label 0, as TFMA evaluated
    them) with the model's probability and logit for each pair."""
    import numpy as np
    from tfx.types import standard_artifacts
    from runtime import metadata_report
    from trainer_module import features
    found = _required(metadata_report.latest_output(
        store, configs.NEGATIVE_SAMPLER_ID, "sampled_examples"),
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
