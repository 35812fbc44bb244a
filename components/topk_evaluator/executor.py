"""TopKEvaluator's executor: validates parameters, calls evaluate.py,
tfma_validations.py and blessing.py, and writes the two output artifacts."""
import json
import math
import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from absl import logging
from tfx import types
from tfx.components.evaluator import constants
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.topk_evaluator import blessing, evaluate, tfma_validations
from recommender import data, metrics

METRICS_FILE = "metrics.json"
SUMMARY_FILE = "summary.txt"
RATING_METRIC_NAMES = ("rmse", "mae", "rsquared", "exp_var")
KNOWN_METRICS = RATING_METRIC_NAMES + metrics.RANKING_METRIC_NAMES



class Parameters(NamedTuple):
    top_k: int
    min_thresholds: Dict[str, float]
    max_thresholds: Dict[str, float]
    baseline_metrics: Tuple[str, ...]
    baseline_tolerance: float
    train_split: str
    eval_split: str
    rating_metrics: bool = True
    # > 0: EASE with this L2 strength ranks the pool too (never blessing).
    ease_l2: float = 0.0
    # > 0: rank a seeded sample of this many users (sample_seed).
    sample_users: int = 0
    sample_seed: int = 0


def parse_parameters(exec_properties: Dict[str, Any]) -> Parameters:
    """Checks the parameters before any work; errors name the parameter."""
    top_k = exec_properties["top_k"]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    tolerance = float(exec_properties["baseline_tolerance"])
    if not tolerance >= 0:
        raise ValueError(f"baseline_tolerance must be >= 0, got {tolerance}")
    compared = tuple(json.loads(exec_properties["baseline_metrics"]))
    _check_metric_names("baseline_metrics", compared)
    thresholds = {}
    for name in ("min_thresholds", "max_thresholds"):
        thresholds[name] = {metric: float(bound) for metric, bound in
                            json.loads(exec_properties[name]).items()}
        _check_metric_names(name, thresholds[name])
    splits = exec_properties["train_split"], exec_properties["eval_split"]
    if splits[0] == splits[1]:
        raise ValueError(f"train_split and eval_split must differ, both are "
                         f"{splits[0]!r}")
    rating_metrics = bool(exec_properties.get("rating_metrics", 1))
    if not rating_metrics:
        named = (set(compared) | set(thresholds["min_thresholds"])
                 | set(thresholds["max_thresholds"]))
        rating_named = sorted(named & set(RATING_METRIC_NAMES))
        if rating_named:
            raise ValueError(
                f"{rating_named} need rating predictions, but rating_metrics "
                f"is off (a ranking model); use ranking metrics only")
    ease_l2 = exec_properties.get("ease_l2")
    ease_l2 = 0.0 if ease_l2 is None else float(ease_l2)
    if not (ease_l2 >= 0 and math.isfinite(ease_l2)):
        raise ValueError(f"ease_l2 must be >= 0 (0: no EASE ranker), got "
                         f"{ease_l2}")
    sample = [exec_properties.get(name) or 0
              for name in ("sample_users", "sample_seed")]
    for name, value in zip(("sample_users", "sample_seed"), sample):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer (0: "
                             f"every user), got {value!r}")
    return Parameters(top_k, thresholds["min_thresholds"],
                      thresholds["max_thresholds"], compared, tolerance,
                      *splits, rating_metrics, ease_l2, *sample)


class Executor(base_beam_executor.BaseBeamExecutor):
    """Reads both splits, evaluates, decides, writes metrics and blessing."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        params = parse_parameters(exec_properties)
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        model = artifact_utils.get_single_instance(input_dict["model"])
        baseline = _optional_single(input_dict.get("baseline_model"))
        tfma_blessed = _is_blessed(_optional_single(
            input_dict.get("tfma_blessing")))
        tfma_evaluation = _optional_single(input_dict.get("tfma_evaluation"))
        # Why TFMA refused, from its validation result, for the check.
        tfma_failures = (
            tfma_validations.explain(tfma_evaluation.uri)
            if tfma_blessed is False and tfma_evaluation is not None
            else None)
        is_baseline = baseline is not None and baseline.id == model.id

        train = data.read_split(examples, params.train_split)
        eval_ = data.read_split(examples, params.eval_split)
        logging.info("TopKEvaluator: %d train and %d eval rows, k=%d",
                     len(train), len(eval_), params.top_k)
        result = evaluate.evaluate(
            train, eval_, path_utils.serving_model_path(model.uri),
            None if baseline is None or is_baseline
            else path_utils.serving_model_path(baseline.uri),
            params.top_k, self._make_beam_pipeline, self._get_tmp_dir(),
            rating_metrics=params.rating_metrics, ease_l2=params.ease_l2,
            sample_users=params.sample_users,
            sample_seed=params.sample_seed)

        blessed, checks = blessing.decide(
            result[evaluate.MODEL], params.min_thresholds,
            params.max_thresholds, result.get(evaluate.BASELINE),
            params.baseline_metrics, params.baseline_tolerance,
            tfma_blessed, is_baseline, tfma_failures)
        result["blessing"] = {"blessed": blessed,
                              "checks": [c.as_dict() for c in checks]}
        evaluation = artifact_utils.get_single_instance(
            output_dict["evaluation"])
        write_evaluation(evaluation.uri, result)
        write_blessing(artifact_utils.get_single_instance(
            output_dict["blessing"]), blessed, model, baseline)
        logging.info("TopKEvaluator: %s", summary_text(result))


def write_evaluation(uri: str, result: Dict) -> None:
    """metrics.json (machine-readable) and summary.txt (for people)."""
    io_utils.write_string_file(os.path.join(uri, METRICS_FILE),
                               json.dumps(result, indent=2, sort_keys=True))
    io_utils.write_string_file(os.path.join(uri, SUMMARY_FILE),
                               summary_text(result))


def read_evaluation(uri: str) -> Dict:
    """The metrics.json of a TopKEvaluator evaluation artifact."""
    return json.loads(io_utils.read_string_file(
        os.path.join(uri, METRICS_FILE)))


def write_blessing(artifact: types.Artifact, blessed: bool,
                   model: types.Artifact,
                   baseline: Optional[types.Artifact]) -> None:
    """A ModelBlessing as TFX's Evaluator writes it (Pusher reads `blessed`)."""
    artifact.set_int_custom_property(
        constants.ARTIFACT_PROPERTY_BLESSED_KEY,
        constants.BLESSED_VALUE if blessed else constants.NOT_BLESSED_VALUE)
    artifact.set_string_custom_property(
        constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
    artifact.set_int_custom_property(
        constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
    if baseline is not None:
        artifact.set_string_custom_property(
            constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline.uri)
        artifact.set_int_custom_property(
            constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline.id)
    io_utils.write_string_file(os.path.join(
        artifact.uri, constants.BLESSED_FILE_NAME if blessed
        else constants.NOT_BLESSED_FILE_NAME), "")


def summary_text(result: Dict) -> str:
    """A few lines a person reads: metrics side by side, then the decision."""
    k = result["k"]
    rankers = [name for name in (evaluate.MODEL, evaluate.BASELINE,
                                 evaluate.POPULARITY, evaluate.EASE)
               if name in result]
    lines = [f"top-{k} evaluation over {result['pool']['pairs']:,} unseen "
             f"(user, item) pairs ({result['pool']['users']} users x "
             f"{result['pool']['items']} items minus train); "
             f"{result['timing']['pairs_per_second']:,} pairs/s",
             "metric        " + "".join(f"{name:>12s}" for name in rankers)]
    for metric in KNOWN_METRICS:
        cells = [f"{result[name][metric]:12.4f}" if metric in result[name]
                 else f"{'-':>12s}" for name in rankers]
        lines.append(f"{metric.replace('@k', f'@{k}'):14s}" + "".join(cells))
    lines.extend(beyond_accuracy_lines(result, rankers))
    sample = result.get("sample")
    if sample:
        lines.append(
            f"ranked a seeded sample of {sample['users']:,} of "
            f"{sample['of_users']:,} users (seed {sample['seed']}); 95 % "
            f"confidence intervals:")
        for name in rankers:
            low, high = sample["intervals"][name]["ndcg@k"]
            p_low, p_high = sample["intervals"][name]["precision@k"]
            lines.append(f"  {name}: ndcg@{k} [{low:.4f}, {high:.4f}], "
                         f"precision@{k} [{p_low:.4f}, {p_high:.4f}]")
    if evaluate.EASE in result:
        lines.append(f"ease: EASE alone (Steck 2019) fitted on the train "
                     f"split, l2 {result.get('ease_l2', 0):g}; a reference, "
                     f"not part of the blessing")
    decision = result.get("blessing")
    if decision:
        lines.append("BLESSED" if decision["blessed"] else "NOT BLESSED")
        lines.extend(f"  [{'ok' if c['passed'] else 'FAILED'}] {c['detail']}"
                     for c in decision["checks"])
    return "\n".join(lines)


def beyond_accuracy_lines(result: Dict, rankers: List[str]) -> List[str]:
    """A heading and one line per ranker of its beyond-accuracy metrics."""
    beyond = result.get(evaluate.BEYOND_ACCURACY)
    if not beyond:
        return []
    lines = [f"beyond accuracy of the top-{result['k']} lists (Microsoft "
             f"Recommenders' definitions; not part of the blessing):"]
    for name in rankers:
        values = beyond[name]
        lines.append(
            f"  {name:<10s} catalog coverage {values['catalog_coverage']:.4f}"
            f", distributional coverage "
            f"{values['distributional_coverage']:.3f} bits, novelty "
            f"{values['novelty']:.3f} bits, diversity "
            f"{values['diversity']:.4f}, serendipity "
            f"{values['serendipity']:.4f}")
    return lines


def _check_metric_names(parameter: str, names) -> None:
    unknown = sorted(set(names) - set(KNOWN_METRICS))
    if unknown:
        raise ValueError(f"{parameter}: unknown metric(s) {unknown}; known: "
                         f"{list(KNOWN_METRICS)}")


def _optional_single(artifacts: Optional[List[types.Artifact]]
                     ) -> Optional[types.Artifact]:
    return artifacts[0] if artifacts else None


def _is_blessed(artifact: Optional[types.Artifact]) -> Optional[bool]:
    if artifact is None:
        return None
    return (artifact.get_int_custom_property(
        constants.ARTIFACT_PROPERTY_BLESSED_KEY) == constants.BLESSED_VALUE)
