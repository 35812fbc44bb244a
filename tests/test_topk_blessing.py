"""components.topk_evaluator.blessing.decide, check by check."""
import pytest

from components.topk_evaluator import blessing

# Binary fractions, so tolerance edges compare exactly.
VALUES = {"rmse": 0.875, "mae": 0.625, "rsquared": 0.25, "exp_var": 0.5,
          "precision@k": 0.125, "recall@k": 0.25, "ndcg@k": 0.375,
          "map": 0.1875, "map@k": 0.25}


def decide(values=None, min_thresholds=None, max_thresholds=None,
           baseline=None, baseline_metrics=("ndcg@k", "rmse"), tolerance=0.0,
           tfma_blessed=None, is_baseline=False, tfma_failures=None):
    return blessing.decide(
        VALUES if values is None else values, min_thresholds or {},
        max_thresholds or {}, baseline, tuple(baseline_metrics), tolerance,
        tfma_blessed, is_baseline, tfma_failures)


def failed(checks):
    return [check for check in checks if not check.passed]


def test_no_checks_blesses():
    blessed, checks = decide()
    assert blessed is True
    assert checks == []


def test_all_pass():
    baseline = dict(VALUES, **{"ndcg@k": 0.25, "rmse": 1.0})
    blessed, checks = decide(
        min_thresholds={"ndcg@k": 0.375, "precision@k": 0.1},
        max_thresholds={"rmse": 0.875, "mae": 1.0},
        baseline=baseline, tfma_blessed=True)
    assert blessed is True
    # 2 min + 2 max + TFMA + 2 baseline comparisons.
    assert len(checks) == 7
    assert all(check.passed for check in checks)
    names = [check.name for check in checks]
    assert names == ["ndcg@k >= 0.375", "precision@k >= 0.1",
                     "mae <= 1", "rmse <= 0.875",
                     "TFMA Evaluator blessed the model",
                     "ndcg@k not worse than baseline",
                     "rmse not worse than baseline"]


def test_failing_min_threshold():
    blessed, checks = decide(min_thresholds={"ndcg@k": 0.5,
                                             "recall@k": 0.25})
    assert blessed is False
    [check] = failed(checks)
    assert check.name == "ndcg@k >= 0.5"
    assert check.detail == "ndcg@k = 0.3750, minimum 0.5"
    # The one at its bound passes.
    assert [c.name for c in checks if c.passed] == ["recall@k >= 0.25"]


def test_failing_max_threshold():
    blessed, checks = decide(max_thresholds={"rmse": 0.75, "mae": 0.625})
    assert blessed is False
    [check] = failed(checks)
    assert check.name == "rmse <= 0.75"
    assert "rmse" in check.detail and "0.8750" in check.detail
    assert "0.75" in check.detail
    assert check.detail == "rmse = 0.8750, maximum 0.75"


def test_failing_min_and_max_together():
    blessed, checks = decide(min_thresholds={"map": 0.5},
                             max_thresholds={"mae": 0.5})
    assert blessed is False
    assert sorted(c.name for c in failed(checks)) == ["mae <= 0.5",
                                                      "map >= 0.5"]


@pytest.mark.parametrize("tfma_blessed, expected", [(True, True),
                                                     (False, False)])
def test_tfma_blessing(tfma_blessed, expected):
    blessed, checks = decide(tfma_blessed=tfma_blessed)
    assert blessed is expected
    [check] = checks
    assert check.passed is expected
    assert check.name == "TFMA Evaluator blessed the model"
    assert ("not blessed" in check.detail) is (not expected)


RMSE_FAILURE = ("root_mean_squared_error = 1.2500, upper bound 1.2 "
                "(overall slice)")


@pytest.mark.parametrize("tfma_blessed, failures, detail", [
    (False, RMSE_FAILURE, "TFMA Evaluator: not blessed: " + RMSE_FAILURE),
    # Without TFMA's evaluation: where to look.
    (False, None, "TFMA Evaluator: not blessed (see its validations)"),
    (True, None, "TFMA Evaluator: blessed"),
])
def test_tfma_check_names_its_failures(tfma_blessed, failures, detail):
    blessed, [check] = decide(tfma_blessed=tfma_blessed,
                              tfma_failures=failures)
    assert blessed is tfma_blessed
    assert check.detail == detail


# ------------------------------------------------------- baseline: higher


@pytest.mark.parametrize("baseline_ndcg, tolerance, expected", [
    (0.25, 0.0, True),     # model better
    (0.375, 0.0, True),    # equal
    (0.5, 0.0, False),     # baseline better
    (0.5, 0.125, True),    # baseline better by exactly the tolerance
    (0.5, 0.0625, False),  # ... by more than the tolerance
    (0.625, 0.125, False),
])
def test_baseline_higher_is_better(baseline_ndcg, tolerance, expected):
    baseline = dict(VALUES, **{"ndcg@k": baseline_ndcg})
    blessed, checks = decide(baseline=baseline, baseline_metrics=["ndcg@k"],
                             tolerance=tolerance)
    assert blessed is expected
    [check] = checks
    assert check.name == "ndcg@k not worse than baseline"
    assert check.passed is expected
    limit = baseline_ndcg - tolerance
    assert check.detail == (
        f"ndcg@k = 0.3750, baseline {baseline_ndcg:.4f}, needs >= "
        f"{limit:.4f} (tolerance {tolerance:g})")


# -------------------------------------------------------- baseline: lower


@pytest.mark.parametrize("baseline_rmse, tolerance, expected", [
    (1.0, 0.0, True),      # model better (lower)
    (0.875, 0.0, True),    # equal
    (0.75, 0.0, False),    # baseline better
    (0.75, 0.125, True),   # baseline better by exactly the tolerance
    (0.75, 0.0625, False),
    (0.5, 0.25, False),
])
def test_baseline_lower_is_better(baseline_rmse, tolerance, expected):
    baseline = dict(VALUES, **{"rmse": baseline_rmse})
    blessed, checks = decide(baseline=baseline, baseline_metrics=["rmse"],
                             tolerance=tolerance)
    assert blessed is expected
    [check] = checks
    assert check.name == "rmse not worse than baseline"
    assert check.passed is expected
    assert "needs <= " in check.detail
    assert f"{baseline_rmse + tolerance:.4f}" in check.detail


def test_mae_is_lower_is_better_too():
    # A higher mae than the baseline fails, a lower one passes.
    worse = decide(baseline=dict(VALUES, mae=0.5), baseline_metrics=["mae"])
    better = decide(baseline=dict(VALUES, mae=0.75), baseline_metrics=["mae"])
    assert worse[0] is False and better[0] is True


def test_baseline_checks_only_the_listed_metrics():
    # Much worse on rmse, but only ndcg@k is compared.
    baseline = dict(VALUES, rmse=0.125)
    blessed, checks = decide(baseline=baseline, baseline_metrics=["ndcg@k"])
    assert blessed is True
    assert [c.name for c in checks] == ["ndcg@k not worse than baseline"]


def test_both_directions_fail_together():
    baseline = dict(VALUES, **{"ndcg@k": 0.5, "rmse": 0.5})
    blessed, checks = decide(baseline=baseline)
    assert blessed is False
    assert [c.name for c in failed(checks)] == [
        "ndcg@k not worse than baseline", "rmse not worse than baseline"]


# ------------------------------------------------------------ is_baseline


def test_is_baseline_is_blessed_on_the_thresholds_alone():
    # A model that is its own baseline (Kubeflow v2's resolver) is not
    # reported as rejected: it passes; the Pusher sees it is served.
    blessed, checks = decide(is_baseline=True, tfma_blessed=True)
    assert blessed is True
    assert [c.name for c in checks] == ["TFMA Evaluator blessed the model",
                                        "model is the baseline"]
    assert "already blessed" in checks[-1].detail


def test_is_baseline_still_fails_a_threshold():
    blessed, checks = decide(is_baseline=True,
                             min_thresholds={"ndcg@k": 0.5})
    assert blessed is False
    assert [c.name for c in failed(checks)] == ["ndcg@k >= 0.5"]


def test_is_baseline_skips_the_baseline_comparison():
    # Compared with a baseline it would fail; no comparison is made.
    worse = dict(VALUES, **{"ndcg@k": 0.125})
    blessed, checks = decide(values=worse, baseline=dict(VALUES),
                             is_baseline=True)
    assert blessed is True
    assert [c.name for c in checks] == ["model is the baseline"]


# ------------------------------------------------------- unknown metrics


@pytest.mark.parametrize("kwargs", [
    {"min_thresholds": {"ndcg@10": 0.1}},
    {"max_thresholds": {"ndcg@10": 0.1}},
    {"baseline": dict(VALUES), "baseline_metrics": ["ndcg@10"]},
])
def test_unknown_metric_raises(kwargs):
    with pytest.raises(ValueError, match="ndcg@10"):
        decide(**kwargs)


def test_metric_missing_from_baseline_raises():
    baseline = {name: value for name, value in VALUES.items()
                if name != "rmse"}
    with pytest.raises(ValueError, match="'rmse'"):
        decide(baseline=baseline, baseline_metrics=["rmse"])


def test_check_as_dict():
    check = blessing.Check("a", False, "b")
    assert check.as_dict() == {"name": "a", "passed": False, "detail": "b"}
