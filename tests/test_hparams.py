"""trainer_module.hparams: seed defaults, ranking defaults, dict round trip,
validation, steps."""
import dataclasses

import pytest

from trainer_module import features, hparams as hparams_lib
from trainer_module.hparams import (ADAGRAD, ADAM, CUSTOM_CONFIG_KEY,
                                    DNN_OPTIMIZERS, HParams)


def test_defaults_equal_the_seed_notebook_parameter_cell():
    # wide_deep_movielens.md, "Hyperparameters" cell.
    hparams = HParams()
    assert hparams.epochs == 50
    assert hparams.batch_size == 256
    assert hparams.linear_learning_rate == 0.0001
    assert hparams.linear_l1 == 0.0
    assert hparams.dnn_learning_rate == 0.1
    # DNN_HIDDEN_LAYER_1 = 0 (unused), then 1024, 32, 1024.
    assert tuple(hparams.hidden_units) == (1024, 32, 1024)
    assert hparams.user_embedding_dim == 64
    assert hparams.item_embedding_dim == 4
    assert hparams.dropout == 0.3
    assert hparams.batch_norm is True
    assert hparams.crossed_hash_buckets == 1000
    assert hparams.train_steps == 0
    # tf_utils.build_feature_columns clips embeddings to sqrt(dim), and the
    # notebook's TF1 estimator summed the batch's losses.
    assert hparams.embedding_max_norm is True
    assert hparams.loss_reduction == hparams_lib.SUM == "sum"
    assert CUSTOM_CONFIG_KEY == "hparams"


def test_to_dict_is_json_friendly_and_round_trips():
    hparams = HParams(epochs=3, batch_size=16, hidden_units=(8, 4),
                      user_embedding_dim=2, item_embedding_dim=3,
                      dropout=0.0, batch_norm=False, train_steps=7)
    values = hparams.to_dict()
    assert values["hidden_units"] == [8, 4]
    assert isinstance(values["hidden_units"], list)
    assert values["epochs"] == 3 and values["train_steps"] == 7
    assert set(values) == {f.name for f in dataclasses.fields(HParams)}
    restored = HParams.from_dict(values)
    assert restored == hparams
    assert isinstance(restored.hidden_units, tuple)
    # The defaults round trip too, and an empty dict gives the defaults.
    assert HParams.from_dict(HParams().to_dict()) == HParams()
    assert HParams.from_dict({}) == HParams()


def test_from_dict_partial_overrides_keep_other_defaults():
    hparams = HParams.from_dict({"batch_size": 32, "hidden_units": [5]})
    assert hparams.batch_size == 32
    assert hparams.hidden_units == (5,)
    assert hparams.epochs == 50


def test_unknown_key_raises_and_names_the_key():
    with pytest.raises(ValueError, match="learning_rat"):
        HParams.from_dict({"batch_size": 8, "learning_rat": 0.1})


@pytest.mark.parametrize("field, value", [
    ("epochs", 0),
    ("batch_size", -1),
    ("crossed_hash_buckets", 0),
    ("user_genre_hash_buckets", 0),
    ("user_genre_hash_buckets", -5),
    ("wide_user_genre_cross", "yes"),
    ("wide_user_genre_cross", 1),
    ("wide_item_column", None),
    ("wide_user_item_cross", 0),
    ("linear_l2", -1.0),
    ("dnn_learning_rate_decay", 0.0),
    ("dnn_learning_rate_decay", 1.5),
    ("dnn_learning_rate_decay", float("nan")),
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


def test_new_wide_options_are_off_for_the_rating_objective():
    # The seed notebook's model: no user x genre cross, no L2 on FTRL.
    hparams = HParams()
    assert hparams.wide_user_genre_cross is False
    assert hparams.wide_history_item_cross is False
    assert hparams.item_knn_feature is False
    assert hparams.item_ease_feature is False
    assert hparams.linear_sparse_combiner == "sum"
    assert hparams.linear_l2 == 0.0
    assert hparams.user_genre_hash_buckets == 50_000
    assert hparams.wide_user_item_cross is True
    assert hparams.dnn_learning_rate_decay == 1.0


def test_wide_user_genre_cross_error_is_clear():
    with pytest.raises(ValueError) as error:
        HParams(wide_user_genre_cross="true")
    assert str(error.value) == ("wide_user_genre_cross must be True or "
                                "False, got 'true'")
    with pytest.raises(ValueError) as error:
        HParams.from_dict({"linear_l2": -0.5})
    assert str(error.value) == "linear_l2 must be >= 0, got -0.5"


def test_steps_for_uses_epochs_over_rows():
    # 50 * 75000 // 256 = 3_750_000 // 256 = 14648 (14648.4375 floored).
    assert HParams().steps_for(75000) == 14648
    assert HParams(epochs=2, batch_size=10).steps_for(25) == 5
    # Never zero steps, even with fewer rows than a batch.
    assert HParams(epochs=1, batch_size=256).steps_for(10) == 1


def test_explicit_train_steps_wins():
    assert HParams(train_steps=123).steps_for(75000) == 123
    assert HParams(train_steps=1).steps_for(0) == 1


def test_rating_objective_is_the_default_with_the_seed_model():
    hparams = HParams()
    assert hparams.objective == features.RATING_OBJECTIVE == "rating"
    assert hparams.dnn_optimizer == ADAGRAD == "adagrad"
    assert hparams.wide_item_column is False
    assert HParams.defaults_for("rating") == hparams
    assert features.OBJECTIVES == ("rating", "ranking")
    assert DNN_OPTIMIZERS == ("adagrad", "adam")


def test_ranking_defaults_are_the_research_recipe():
    hparams = HParams.ranking_defaults()
    assert hparams.objective == features.RANKING_OBJECTIVE == "ranking"
    # 3 epochs of fresh negatives, 4 per positive, drawn by the Trainer
    # (the research's 6 rounds, halved in issue 23); a batch of 1024 holds
    # 204 positives.
    assert hparams.epochs == 3
    assert hparams.negatives_per_positive == 4
    assert hparams.batch_size == 1024
    assert hparams.positives_per_batch == 204
    assert hparams.linear_learning_rate == 0.05
    assert hparams.linear_l1 == 0.0
    assert hparams.crossed_hash_buckets == 100_000
    assert hparams.wide_item_column is True
    assert hparams.dnn_optimizer == ADAM == "adam"
    # Issue 15's search (results/ranking_search_stratified.json): 0.01.
    assert hparams.dnn_learning_rate == 0.01
    # The options the search tried and left off.
    assert hparams.wide_user_item_cross is True
    assert hparams.wide_user_genre_cross is False
    assert hparams.wide_history_item_cross is False
    assert hparams.item_knn_feature is False
    assert hparams.linear_sparse_combiner == "sum"
    assert hparams.linear_l2 == 0.0
    assert hparams.dnn_learning_rate_decay == 1.0
    assert hparams.hidden_units == (256, 128)
    # The fourth round: the EASE score of the candidate.
    assert hparams.item_ease_feature is True
    assert hparams.ease_l2 == 300.0
    # The sixth round: the served score adds 8x that EASE score.
    assert hparams.ease_blend_weight == 8.0
    # The search's second round: the user's history in place of the user id.
    assert hparams.user_embedding_dim == 0
    assert hparams.history_embedding_dim == 64
    assert hparams.item_embedding_dim == 32
    assert hparams.dropout == 0.0
    assert hparams.batch_norm is False
    assert hparams.embedding_max_norm is False
    assert hparams.loss_reduction == hparams_lib.MEAN == "mean"
    assert hparams.random_seed == 123
    assert hparams.train_steps == 0
    assert HParams.defaults_for("ranking") == hparams


def test_ranking_round_trips_and_partial_dicts_take_its_defaults():
    ranking = HParams.ranking_defaults()
    assert HParams.from_dict(ranking.to_dict()) == ranking
    # {"objective": "ranking"} is the recipe, not the seed with a classifier.
    assert HParams.from_dict({"objective": "ranking"}) == ranking
    assert HParams.from_dict({"objective": "ranking", "epochs": 2,
                              "hidden_units": [16]}) == dataclasses.replace(
        ranking, epochs=2, hidden_units=(16,))
    # Any field can be overridden, also back to the seed's values.
    assert HParams.from_dict({"objective": "ranking", "dnn_optimizer":
                              "adagrad"}).dnn_optimizer == "adagrad"


def test_steps_for_three_ranking_epochs_over_the_positives():
    # 74,789 positives x 3 epochs // 204 positives a batch = 1099
    # (1099.8): batches of 204 positives + 816 negatives = 1,020 rows.
    assert HParams.ranking_defaults().steps_for(74_789) == 1099
    assert HParams().steps_for(1000) == 50 * 1000 // 256


@pytest.mark.parametrize("values, message", [
    ({"objective": "ranking", "negatives_per_positive": 0},
     "the ranking objective needs negatives_per_positive >= 1, got 0"),
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
        HParams.from_dict(values)
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
    # The same through from_dict and defaults_for (the Trainer's and the
    # runner's ways in).
    with pytest.raises(ValueError) as error:
        HParams.from_dict({field: value})
    assert str(error.value) == message
    if field == "objective":
        with pytest.raises(ValueError) as error:
            HParams.defaults_for(value)
        assert str(error.value) == message


def test_seed_recipe_is_the_defaults_and_fast_changes_only_its_values():
    assert hparams_lib.recipe(hparams_lib.SEED_RECIPE) == HParams()
    fast = hparams_lib.recipe(hparams_lib.FAST_RECIPE)
    changed = {name for name, value in fast.to_dict().items()
               if value != HParams().to_dict()[name]}
    assert changed == set(hparams_lib.RECIPES[hparams_lib.FAST_RECIPE])
    # Less than a third of the seed's DNN work on the same rows (steps x
    # multiply-adds of the hidden layers per example): the point of it.
    def work(hparams):
        widths = [hparams.user_embedding_dim + hparams.item_embedding_dim
                  + len(features.GENRES), *hparams.hidden_units, 1]
        per_example = sum(a * b for a, b in zip(widths, widths[1:]))
        return hparams.steps_for(75000) * hparams.batch_size * per_example
    assert work(fast) < work(HParams()) / 3


def test_recipe_overrides_win_and_are_validated():
    fast = hparams_lib.recipe(hparams_lib.FAST_RECIPE, {"epochs": 2})
    assert fast.epochs == 2
    with pytest.raises(ValueError, match="dropout"):
        hparams_lib.recipe(hparams_lib.FAST_RECIPE, {"dropout": 1.5})


def test_unknown_recipe_and_fast_ranking_are_refused_by_name():
    with pytest.raises(ValueError, match="'quick'"):
        hparams_lib.recipe("quick")
    with pytest.raises(ValueError, match="'fast' is for the rating"):
        hparams_lib.recipe(hparams_lib.FAST_RECIPE,
                           {"objective": features.RANKING_OBJECTIVE})
    # The seed recipe with the ranking objective is the ranking defaults.
    assert hparams_lib.recipe(
        hparams_lib.SEED_RECIPE, {"objective": features.RANKING_OBJECTIVE}
    ) == HParams.ranking_defaults()


def test_local_runner_recipe_flag_then_explicit_flags():
    import local_runner
    from pipeline import options
    fast = hparams_lib.recipe(hparams_lib.FAST_RECIPE)
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
    ranking = HParams.ranking_defaults()
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


def test_ranking_defaults_are_what_the_recorded_search_chose():
    """The chosen variant's recorded runs trained exactly the defaults (but
    the seed) with the pipeline's sampler settings."""
    import json
    from conftest import REPO
    search = json.loads((REPO / "benchmarks" / "results" /
                         "ranking_search_stratified.json").read_text())
    chosen = [run for run in search["runs"]
              if run["variant"] == search["chosen"]]
    assert len(chosen) >= 3
    defaults = HParams.ranking_defaults().to_dict()
    off = HParams().to_dict()
    weight = HParams.ranking_defaults().ease_blend_weight
    assert weight == search["chosen_ease_blend_weight"] > 0
    for run in chosen:
        recorded = dict(run["params"]["hparams"])
        assert recorded.pop("random_seed") == run["seed"]
        # The blend changes only the scores: the runs trained without it
        # and ranked with it among other weights.
        assert recorded.pop("ease_blend_weight") == 0.0
        assert str(weight) in run["ease_blend"]
        # Each round is an epoch of the Trainer's negatives; runs recorded
        # before issue 23 wrote the rounds out and read them in one epoch.
        assert recorded.pop("epochs") in (1, run["params"]["rounds"])
        assert run["params"]["rounds"] == defaults["epochs"]
        assert run["params"]["negatives_per_positive"] == \
            defaults["negatives_per_positive"]
        assert recorded == {name: value for name, value in defaults.items()
                            if name in recorded}
        # Options added after these runs are off by default, as they were.
        newer = (set(defaults) - set(recorded)
                 - {"random_seed", "epochs", "negatives_per_positive",
                    "ease_blend_weight"})
        assert {name: defaults[name] for name in newer} == {
            name: off[name] for name in newer}


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
        HParams.from_dict(values)
