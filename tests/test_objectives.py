"""The objectives (trainer_module/objectives/): each one's label, served
prediction, TFMA gate and the pipeline it makes. No training."""
import argparse

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from pipeline import configs, options
from pipeline.pipeline import create_pipeline
from pipeline.settings import Gates, PipelinePaths
import movielens_features as features
from trainer_module import objectives
from trainer_module.objectives import ranking, rating

PATHS = PipelinePaths("/tmp/root", "/tmp/data", "/tmp/serving")


def test_every_objective_name_has_its_module():
    assert [objectives.get(name).name for name in features.OBJECTIVES] == list(
        features.OBJECTIVES)
    with pytest.raises(ValueError, match="objective must be one of"):
        objectives.get("regression")


@pytest.mark.parametrize("objective", [objectives.RATING, objectives.RANKING])
def test_default_hparams_are_the_objectives_own(objective):
    assert objective.default_hparams().objective == objective.name


def test_rating_label_is_the_rating_and_prediction_is_clipped():
    ratings = tf.constant([0.5, 3.0, 5.0])
    np.testing.assert_array_equal(objectives.RATING.label(ratings), ratings)
    np.testing.assert_allclose(
        objectives.RATING.to_prediction(tf.constant([-1.0, 3.25, 7.0])),
        [features.RATING_MIN, 3.25, features.RATING_MAX])


def test_ranking_label_tells_ratings_from_sampled_negatives():
    # Negatives carry rating 0.0; the lowest real rating is RATING_MIN.
    labels = objectives.RANKING.label(
        tf.constant([0.0, features.RATING_MIN, 1.0, 5.0]))
    np.testing.assert_array_equal(labels, [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        objectives.RANKING.to_prediction(tf.constant([0.0, 2.0])),
        [0.5, 1 / (1 + np.exp(-2.0))], rtol=1e-6)


def _threshold(eval_config: tfma.EvalConfig):
    [spec] = eval_config.metrics_specs
    [gated] = [metric for metric in spec.metrics
               if metric.per_slice_thresholds]
    [per_slice] = gated.per_slice_thresholds
    # The overall slice only.
    assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
    return gated.class_name, per_slice.threshold


@pytest.mark.parametrize("objective, gate, metric, bound, limit, change, "
                         "direction, label", [
    # RMSE at most 1.1, and at most 0.02 above the baseline's.
    (objectives.RATING, rating.Gate(max_rmse=1.1, rmse_tolerance=0.02),
     "RootMeanSquaredError", "upper_bound", 1.1, 0.02,
     tfma.MetricDirection.LOWER_IS_BETTER, features.LABEL_KEY),
    # AUC at least 0.7; TFMA's change is candidate - baseline: at most 0.03
    # below the baseline's.
    (objectives.RANKING, ranking.Gate(min_auc=0.7, auc_tolerance=0.03),
     "AUC", "lower_bound", 0.7, -0.03, tfma.MetricDirection.HIGHER_IS_BETTER,
     features.SAMPLED_LABEL_KEY),
])
def test_the_gate_bounds_the_metric_and_its_change(
        objective, gate, metric, bound, limit, change, direction, label):
    config = objective.eval_config(gate)
    name, threshold = _threshold(config)
    assert name == metric
    value = threshold.value_threshold
    assert getattr(value, bound).value == limit
    other = "lower_bound" if bound == "upper_bound" else "upper_bound"
    assert not value.HasField(other)
    assert threshold.change_threshold.absolute.value == change
    assert threshold.change_threshold.direction == direction
    assert config.model_specs[0].label_key == label


def test_eval_configs_slice_overall_and_per_genre():
    for objective in (objectives.RATING, objectives.RANKING):
        config = objective.eval_config(objective.Gate())
        assert list(config.slicing_specs) == [
            tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=[features.GENRE_SLICE_KEY])]


def test_another_objectives_gate_is_refused():
    with pytest.raises(ValueError, match="rating objective is gated by"):
        create_pipeline("p", PATHS, objectives.RATING.default_hparams(),
                        gates=Gates(tfma=ranking.Gate()))


def _components(hparams, **kwargs):
    return {node.id: node for node in
            create_pipeline("p", PATHS, hparams, **kwargs).components}


def test_the_objectives_pipelines_differ_by_the_eval_sampler_and_gates():
    rated = _components(objectives.RATING.default_hparams())
    ranked = _components(objectives.RANKING.default_hparams())
    assert configs.NEGATIVE_SAMPLER_ID not in rated
    sampler = ranked[configs.NEGATIVE_SAMPLER_ID]
    assert sampler.exec_properties["negatives_per_positive"] == (
        ranking.EVAL_NEGATIVES_PER_POSITIVE)
    # The pipeline's seed, the sampler's own required parameter.
    assert sampler.exec_properties["seed"] == (
        objectives.RANKING.default_hparams().random_seed)
    # TFMA judges the ranking model on the sampler's eval split.
    assert (ranked[configs.EVALUATOR_ID].inputs["examples"]
            .producer_component_id == configs.NEGATIVE_SAMPLER_ID)
    assert (rated[configs.EVALUATOR_ID].inputs["examples"]
            .producer_component_id == configs.EXAMPLE_GEN_ID)
    # The TopKEvaluator computes rmse of rating scores only, and ranks with
    # EASE alone for the ranking model.
    assert rated[configs.TOPK_EVALUATOR_ID].exec_properties[
        "rating_metrics"] in (1, True)
    assert ranked[configs.TOPK_EVALUATOR_ID].exec_properties[
        "rating_metrics"] in (0, False)
    assert ranked[configs.TOPK_EVALUATOR_ID].exec_properties["ease_l2"] == (
        objectives.RANKING.default_hparams().ease_l2)
    assert not rated[configs.TOPK_EVALUATOR_ID].exec_properties.get("ease_l2")


def test_gate_flags_reach_the_objectives_gate():
    parser = argparse.ArgumentParser()
    options.add_pipeline_flags(parser)
    rated = options.pipeline_settings(parser.parse_args(
        ["--max-rmse", "1.05", "--top-k", "5", "--min-ndcg", "0.02"]))
    assert rated["gates"].tfma == rating.Gate(max_rmse=1.05)
    assert (rated["gates"].topk.k, rated["gates"].topk.min_ndcg) == (5, 0.02)
    ranked = options.pipeline_settings(parser.parse_args(
        ["--objective", "ranking", "--min-auc", "0.8",
         "--auc-tolerance", "0.0"]))
    assert ranked["gates"].tfma == ranking.Gate(min_auc=0.8,
                                                auc_tolerance=0.0)
