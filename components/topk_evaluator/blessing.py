"""Whether a model may be pushed, check by check.

A model is blessed only if every check passes:
  - each metric within its threshold (min for ranking metrics, max for errors),
  - the TFMA Evaluator blessed it (when its blessing is an input; when it
    did not, the check names TFMA's failed validations, tfma_validations.py),
  - it is not worse than the baseline model beyond the tolerance.
A model that is its own baseline (TFX's LatestBlessedModelStrategy returns
the latest blessed model, which may be the candidate: Kubeflow v2) is
judged on the thresholds alone; the Pusher sees whether it is served.
"""
import dataclasses
from typing import Dict, List, Optional, Tuple

# Metrics where smaller is better; all others are higher-is-better.
LOWER_IS_BETTER = frozenset({"rmse", "mae"})


@dataclasses.dataclass(frozen=True)
class Check:
    """One condition of the blessing, with the numbers it compared."""
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> Dict:
        return dataclasses.asdict(self)


def threshold_checks(values: Dict[str, float], min_thresholds: Dict[str, float],
                     max_thresholds: Dict[str, float]) -> List[Check]:
    """value >= min and value <= max for every configured threshold."""
    checks = []
    for name, bound in sorted(min_thresholds.items()):
        value = _metric(values, name)
        checks.append(Check(f"{name} >= {bound:g}", value >= bound,
                            f"{name} = {value:.4f}, minimum {bound:g}"))
    for name, bound in sorted(max_thresholds.items()):
        value = _metric(values, name)
        checks.append(Check(f"{name} <= {bound:g}", value <= bound,
                            f"{name} = {value:.4f}, maximum {bound:g}"))
    return checks


def baseline_checks(values: Dict[str, float], baseline: Dict[str, float],
                    metric_names: Tuple[str, ...], tolerance: float
                    ) -> List[Check]:
    """Each compared metric no worse than the baseline's beyond tolerance."""
    checks = []
    for name in metric_names:
        value, reference = _metric(values, name), _metric(baseline, name)
        if name in LOWER_IS_BETTER:
            passed, relation = value <= reference + tolerance, "<="
            limit = reference + tolerance
        else:
            passed, relation = value >= reference - tolerance, ">="
            limit = reference - tolerance
        checks.append(Check(
            f"{name} not worse than baseline", passed,
            f"{name} = {value:.4f}, baseline {reference:.4f}, needs "
            f"{relation} {limit:.4f} (tolerance {tolerance:g})"))
    return checks


def decide(values: Dict[str, float], min_thresholds: Dict[str, float],
           max_thresholds: Dict[str, float],
           baseline: Optional[Dict[str, float]],
           baseline_metrics: Tuple[str, ...], tolerance: float,
           tfma_blessed: Optional[bool], is_baseline: bool,
           tfma_failures: Optional[str] = None
           ) -> Tuple[bool, List[Check]]:
    """(blessed, every check made).

    tfma_failures: why the TFMA Evaluator did not bless (its failed
    validations, tfma_validations.explain), for the check's detail; None:
    not known (its evaluation is not an input).
    """
    checks = threshold_checks(values, min_thresholds, max_thresholds)
    if tfma_blessed is not None:
        checks.append(Check(
            "TFMA Evaluator blessed the model", tfma_blessed,
            tfma_detail(tfma_blessed, tfma_failures)))
    if is_baseline:
        checks.append(Check(
            "model is the baseline", True,
            "this model is the baseline (already blessed); judged on the "
            "thresholds alone"))
    elif baseline is not None:
        checks.extend(baseline_checks(values, baseline, baseline_metrics,
                                      tolerance))
    return all(check.passed for check in checks), checks


def tfma_detail(tfma_blessed: bool, tfma_failures: Optional[str]) -> str:
    """The TFMA check's detail: "TFMA Evaluator: blessed", or not blessed
    with its failures when known."""
    if tfma_blessed:
        return "TFMA Evaluator: blessed"
    if tfma_failures is None:
        return "TFMA Evaluator: not blessed (see its validations)"
    return f"TFMA Evaluator: not blessed: {tfma_failures}"


def _metric(values: Dict[str, float], name: str) -> float:
    if name not in values:
        raise ValueError(f"unknown metric {name!r} in a threshold; known: "
                         f"{sorted(values)}")
    return values[name]
