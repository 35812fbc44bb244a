"""trainer_module.hparams: the defaults per objective, dict round trip,
validation, steps, recipes."""
import dataclasses

import pytest

import movielens_features as features

from trainer_module import objectives
from trainer_module.hparams import HParams


def test_to_dict_is_json_friendly_and_round_trips():
    hparams = HParams(epochs=3, batch_size=16, hidden_units=(8, 4),
                      user_embedding_dim=2, item_embedding_dim=3,
                      dropout=0.0, batch_norm=False, train_steps=7)
    values = hparams.to_dict()
    assert values["hidden_units"] == [8, 4]
    assert isinstance(values["hidden_units"], list)
    assert values["epochs"] == 3 and values["train_steps"] == 7
    assert set(values) == {f.name for f in dataclasses.fields(HParams)}
    restored = objectives.hparams_from_dict(values)
    assert restored == hparams
    assert isinstance(restored.hidden_units, tuple)
    # The defaults round trip too, and an empty dict gives the defaults.
    assert objectives.hparams_from_dict(HParams().to_dict()) == HParams()
    assert objectives.hparams_from_dict({}) == HParams()


def test_from_dict_partial_overrides_keep_other_defaults():
    hparams = objectives.hparams_from_dict({"batch_size": 32,
                                            "hidden_units": [5]})
    assert hparams == dataclasses.replace(HParams(), batch_size=32,
                                          hidden_units=(5,))


def test_unknown_key_raises_and_names_the_key():
    with pytest.raises(ValueError, match="learning_rat"):
        objectives.hparams_from_dict({"batch_size": 8, "learning_rat": 0.1})


@pytest.mark.parametrize("field, value", [
    ("epochs", 0),
    ("batch_size", -1),
    ("crossed_hash_buckets", 0),
    ("wide_item_column", None),
    ("wide_user_item_cross", 0),
    ("item_ease_feature", "yes"),
    ("linear_l2", -1.0),
    ("linear_l2", float("nan")),
    ("user_embedding_dim", 0),
    ("item_embedding_dim", -4),
    ("hidden_units", ()),
    ("hidden_units", (8, 0)),
    ("dropout", 1.0),
    ("dropout", -0.1),
    ("train_steps", -1),
    ("loss_reduction", "median"),
])
def test_invalid_values_raise_with_the_field_name(field, value):
    with pytest.raises(ValueError, match=field):
        HParams(**{field: value})


@pytest.mark.parametrize("value", [0.0, -0.1, float("nan")])
@pytest.mark.parametrize("field", ["linear_learning_rate", "dnn_learning_rate"])
def test_non_positive_learning_rate_error_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        HParams(**{field: value})


@pytest.mark.parametrize("value", [-0.1, float("nan")])
def test_negative_or_nan_l1_raises(value):
    with pytest.raises(ValueError, match="linear_l1"):
        HParams(linear_l1=value)


def test_flag_and_range_errors_say_the_field_and_the_value():
    with pytest.raises(ValueError) as error:
        HParams(wide_item_column="true")
    assert str(error.value) == ("wide_item_column must be True or False, "
                                "got 'true'")
    with pytest.raises(ValueError) as error:
        objectives.hparams_from_dict({"linear_l2": -0.5})
    assert str(error.value) == "linear_l2 must be >= 0, got -0.5"


def test_steps_for_uses_epochs_over_rows():
    # 50 * 75000 // 256 = 3_750_000 // 256 = 14648 (14648.4375 floored).
    assert HParams(epochs=50, batch_size=256).steps_for(75000) == 14648
    assert HParams(epochs=2, batch_size=10).steps_for(25) == 5
    # Never zero steps, even with fewer rows than a batch.
    assert HParams(epochs=1, batch_size=256).steps_for(10) == 1


def test_explicit_train_steps_wins():
    assert HParams(train_steps=123).steps_for(75000) == 123
    assert HParams(train_steps=1).steps_for(0) == 1


def test_the_rating_objectives_defaults_are_the_seeds():
    assert objectives.RATING.default_hparams() == HParams()


def test_ranking_round_trips_and_partial_dicts_take_its_defaults():
    ranking = objectives.RANKING.default_hparams()
    assert objectives.hparams_from_dict(ranking.to_dict()) == ranking
    # {"objective": "ranking"} is the recipe, not the seed with a classifier.
    assert objectives.hparams_from_dict({"objective": "ranking"}) == ranking
    assert objectives.hparams_from_dict(
        {"objective": "ranking", "epochs": 2, "hidden_units": [16]}
    ) == dataclasses.replace(ranking, epochs=2, hidden_units=(16,))
    # Any field can be overridden, also back to the seed's values.
    assert objectives.hparams_from_dict(
        {"objective": "ranking", "dnn_optimizer": "adagrad"}
    ).dnn_optimizer == "adagrad"


def test_ranking_steps_are_epochs_over_the_positives():
    # A batch of 10 rows holds 2 positives, each with 4 negatives: 3 epochs
    # of 21 positives are 3 * 21 // 2 = 31 steps (not 3 * 21 // 10 = 6).
    hparams = dataclasses.replace(objectives.RANKING.default_hparams(),
                                  epochs=3, batch_size=10,
                                  negatives_per_positive=4)
    assert hparams.positives_per_batch == 2
    assert hparams.steps_for(21) == 31


def test_the_ranking_objective_is_not_the_seed_with_a_classifier_head():
    with pytest.raises(ValueError, match=r"objectives\.RANKING\."
                                         r"default_hparams\(\)"):
        HParams(objective="ranking")


@pytest.mark.parametrize("values, message", [
    ({"objective": "ranking", "negatives_per_positive": 0},
     "the ranking objective needs negatives_per_positive >= 1, got 0 (its "
     "model: objectives.RANKING.default_hparams())"),
    ({"negatives_per_positive": 2},
     "the rating objective samples no negatives: negatives_per_positive "
     "must be 0, got 2"),
    ({"objective": "ranking", "batch_size": 4},
     "batch_size 4 holds no positive with its 4 negatives: it must be at "
     "least 5"),
    ({"objective": "ranking", "negatives_per_positive": 1.5},
     "negatives_per_positive must be an integer, got 1.5"),
])
def test_negatives_per_positive_fits_the_objective_and_the_batch(values,
                                                                 message):
    with pytest.raises(ValueError) as error:
        objectives.hparams_from_dict(values)
    assert str(error.value) == message


@pytest.mark.parametrize("field, value, allowed", [
    ("objective", "pairwise", "['rating', 'ranking']"),
    ("objective", "Rating", "['rating', 'ranking']"),
    ("dnn_optimizer", "sgd", "['adagrad', 'adam']"),
])
def test_unknown_choice_names_the_value_and_the_allowed_ones(field, value,
                                                              allowed):
    message = f"{field} must be one of {allowed}, got '{value}'"
    with pytest.raises(ValueError) as error:
        HParams(**{field: value})
    assert str(error.value) == message
    # The same through hparams_from_dict and objectives.get (the Trainer's
    # and the runner's ways in).
    with pytest.raises(ValueError) as error:
        objectives.hparams_from_dict({field: value})
    assert str(error.value) == message
    if field == "objective":
        with pytest.raises(ValueError) as error:
            objectives.get(value).default_hparams()
        assert str(error.value) == message


def test_seed_recipe_is_the_defaults_and_fast_changes_only_its_values():
    assert objectives.recipe(objectives.rating.SEED_RECIPE) == HParams()
    fast = objectives.recipe(objectives.rating.FAST_RECIPE)
    changed = {name for name, value in fast.to_dict().items()
               if value != HParams().to_dict()[name]}
    assert changed == set(
        objectives.rating.RECIPES[objectives.rating.FAST_RECIPE])
    # Less than a third of the seed's DNN work on the same rows (steps x
    # multiply-adds of the hidden layers per example): the point of it.
    def work(hparams):
        widths = [hparams.user_embedding_dim + hparams.item_embedding_dim
                  + len(features.GENRES), *hparams.hidden_units, 1]
        per_example = sum(a * b for a, b in zip(widths, widths[1:]))
        return hparams.steps_for(75000) * hparams.batch_size * per_example
    assert work(fast) < work(HParams()) / 3


def test_recipe_overrides_win_and_are_validated():
    fast = objectives.recipe(objectives.rating.FAST_RECIPE, {"epochs": 2})
    assert fast.epochs == 2
    with pytest.raises(ValueError, match="dropout"):
        objectives.recipe(objectives.rating.FAST_RECIPE, {"dropout": 1.5})


def test_unknown_recipe_and_fast_ranking_are_refused_by_name():
    with pytest.raises(ValueError, match="'quick'"):
        objectives.recipe("quick")
    with pytest.raises(ValueError, match="'fast' is for the rating"):
        objectives.recipe(objectives.rating.FAST_RECIPE,
                          {"objective": features.RANKING_OBJECTIVE})
    # The seed recipe with the ranking objective is the ranking defaults.
    assert objectives.recipe(
        objectives.rating.SEED_RECIPE,
        {"objective": features.RANKING_OBJECTIVE},
    ) == objectives.RANKING.default_hparams()


def test_local_runner_recipe_flag_then_explicit_flags():
    import local_runner
    from pipeline import options
    fast = objectives.recipe(objectives.rating.FAST_RECIPE)
    assert options.hparams_from_args(
        local_runner.parse_args(["--recipe", "fast"])) == fast
    assert options.hparams_from_args(local_runner.parse_args(
        ["--recipe", "fast", "--batch-size", "64"])) == dataclasses.replace(
            fast, batch_size=64)
    assert options.hparams_from_args(
        local_runner.parse_args([])) == HParams()


def test_local_runner_flags_turn_the_ease_score_off_or_change_its_l2():
    import local_runner
    from pipeline import options
    ranking = objectives.RANKING.default_hparams()
    assert options.hparams_from_args(local_runner.parse_args(
        ["--objective", "ranking", "--no-item-ease-feature"])) == \
        dataclasses.replace(ranking, item_ease_feature=False,
                            ease_blend_weight=0.0)
    assert options.hparams_from_args(local_runner.parse_args(
        ["--objective", "ranking", "--ease-l2", "50"])) == \
        dataclasses.replace(ranking, ease_l2=50.0)
    assert options.hparams_from_args(local_runner.parse_args(
        ["--objective", "ranking", "--ease-blend-weight", "0"])) == \
        dataclasses.replace(ranking, ease_blend_weight=0.0)
    # Both: nothing to blend, said with the flags' names.
    with pytest.raises(ValueError, match="--ease-blend-weight 2.0 .*"
                                         "item_ease_feature on"):
        options.hparams_from_args(local_runner.parse_args(
            ["--objective", "ranking", "--no-item-ease-feature",
             "--ease-blend-weight", "2"]))


@pytest.mark.parametrize("values, message", [
    ({"ease_blend_weight": -1.0}, "ease_blend_weight must be >= 0"),
    ({"ease_blend_weight": float("nan")}, "ease_blend_weight must be >= 0"),
    # The rating regressor has no logit to add the EASE score to.
    ({"objective": "rating", "ease_blend_weight": 2.0},
     "needs the ranking objective with item_ease_feature on"),
    ({"objective": "ranking", "item_ease_feature": False,
      "ease_blend_weight": 2.0},
     "needs the ranking objective with item_ease_feature on"),
])
def test_ease_blend_weight_is_refused_where_it_cannot_apply(values, message):
    with pytest.raises(ValueError, match=message):
        objectives.hparams_from_dict(values)
