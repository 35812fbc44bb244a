"""Command-line options every runner shares, in one place.

add_pipeline_flags: the pipeline's name, cache, blessing gates and model
(every runner); hparams_from_args and pipeline_settings turn them into
create_pipeline's arguments. What only the Kubeflow runners share is
cluster_options.py; the portable runner's Beam flags, beam_options.py.

Imports no TensorFlow: a bad flag is reported at once. Every numeric flag
is checked by its argparse type (a range, finite), so a value that cannot
work stops before the run, in one line naming the flag, with exit code 2.
Every flag's --help states its default (Parser's formatter adds it).
"""
import argparse
import dataclasses
import math
import re
from typing import Any, Callable, Dict, List, NoReturn, Optional

from pipeline import configs
from pipeline.settings import Gates, Split, TopKGate
import movielens_features as features
from trainer_module import objectives
from trainer_module.hparams import HParams


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: `error: argument --top-k: ...`, exit
    code 2, instead of the whole usage (dozens of lines for these runners)
    above it; and with every flag's default in --help, whatever formatter
    the runner asks for."""

    def __init__(self, *args: Any,
                 formatter_class: type = argparse.HelpFormatter,
                 **kwargs: Any):
        super().__init__(*args, formatter_class=showing_defaults(
            formatter_class), **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


class _DefaultsInHelp(argparse.HelpFormatter):
    """Ends a flag's help with "(default: X)" when it has a default (not
    None, False or empty) its help does not already state."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default in (None, False, argparse.SUPPRESS)
                or action.default == [] or "default" in text):
            return text
        return f"{text} (default: %(default)s)"


def showing_defaults(formatter_class: type) -> type:
    """formatter_class that also states each flag's default."""
    if issubclass(formatter_class, _DefaultsInHelp):
        return formatter_class
    return type(formatter_class.__name__, (_DefaultsInHelp, formatter_class),
                {})


def ranged(kind: type, low: float, high: Optional[float] = None,
           low_open: bool = False, high_open: bool = False
           ) -> Callable[[str], Any]:
    """argparse type: an int or a finite float within the bounds (closed
    unless *_open); its error names the range and the text given."""
    wanted = _range_text(kind, low, high, low_open, high_open)

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not _within(value, low, high, low_open,
                                        high_open):
            raise argparse.ArgumentTypeError(
                f"must be {wanted}, got {text!r}")
        return value
    return parse


def _within(value: float, low: float, high: Optional[float], low_open: bool,
            high_open: bool) -> bool:
    if not math.isfinite(value):  # NaN and inf pass no threshold
        return False
    above = value > low if low_open else value >= low
    if high is None:
        return above
    return above and (value < high if high_open else value <= high)


def _range_text(kind: type, low: float, high: Optional[float],
                low_open: bool, high_open: bool) -> str:
    noun = "an integer" if kind is int else "a number"
    if high is None:
        return f"{noun} {'>' if low_open else '>='} {low:g}"
    return (f"{noun} in {'(' if low_open else '['}{low:g}, {high:g}"
            f"{')' if high_open else ']'}")


def _layer_sizes(text: str) -> List[int]:
    """argparse type of --hidden-units: comma-separated positive integers."""
    try:
        sizes = [int(units) for units in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas, e.g. 1024,32,"
            f"1024, got {text!r}")
    return sizes


_POSITIVE_INT = ranged(int, 1)
_COUNT = ranged(int, 0)  # a non-negative integer: sizes that may be 0, seeds
_POSITIVE = ranged(float, 0, low_open=True)
_NON_NEGATIVE = ranged(float, 0)
_UNIT_INTERVAL = ranged(float, 0, 1)

_HPARAM_FLAGS = {
    # HParams field (flag --field-name) -> (argparse type, help); the help
    # ends with the recipes' defaults (recipe_defaults_text).
    "epochs": (_POSITIVE_INT, "passes over the train split (ranking: each "
                              "with fresh negatives)"),
    "negatives_per_positive": (_COUNT, "ranking: unrated movies sampled per "
                                       "rating as the Trainer reads it"),
    "train_steps": (_POSITIVE_INT, "train exactly this many steps, at least "
                                   "1 (default: --epochs decides)"),
    "batch_size": (_POSITIVE_INT, "examples per step, sampled negatives "
                                  "included"),
    "linear_learning_rate": (_POSITIVE, "FTRL learning rate"),
    "linear_l1": (_NON_NEGATIVE, "FTRL L1 regularization"),
    "crossed_hash_buckets": (_POSITIVE_INT, "buckets of the user x item "
                                            "cross"),
    "dnn_learning_rate": (_POSITIVE, "the DNN optimizer's learning rate "
                                     "(Adagrad; Adam for ranking)"),
    "user_embedding_dim": (_COUNT, "user embedding size (0: none, with a "
                                   "history embedding)"),
    "history_embedding_dim": (_COUNT, "embedding size of the user's rated "
                                      "movies (0: off)"),
    "item_embedding_dim": (_POSITIVE_INT, "item embedding size"),
    "ease_l2": (_POSITIVE, "L2 strength of the ranking model's EASE score"),
    "ease_blend_weight": (_NON_NEGATIVE, "ranking: the served score is the "
                                         "logit plus this times the EASE "
                                         "score (0: the logit alone)"),
    "dropout": (ranged(float, 0, 1, high_open=True), "DNN dropout rate"),
    "random_seed": (_COUNT, "graph-level random seed"),
}


def recipe_defaults_text(name: str) -> str:
    """"default: X" of an HParams field, with the fast recipe's and the
    ranking objective's value where they differ: read from HParams and the
    recipes, so --help cannot drift from them."""
    def shown(value: Any) -> str:
        return (",".join(map(str, value)) if isinstance(value, (list, tuple))
                else str(value))
    seed = getattr(objectives.RATING.default_hparams(), name)
    text = f"default: {shown(seed)}"
    fast = getattr(objectives.recipe(objectives.rating.FAST_RECIPE), name)
    if fast != seed:
        text += f"; --recipe fast: {shown(fast)}"
    ranking = getattr(objectives.RANKING.default_hparams(), name)
    if ranking != seed:
        text += f"; ranking: {shown(ranking)}"
    return text


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every runner shares: name, cache, gates, hyper-parameters."""
    parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME,
                        help="names the run's metadata, artifacts and "
                             "served models")
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run every component")
    gates = parser.add_argument_group("blessing (what gets pushed)")
    gates.add_argument("--max-rmse", type=_POSITIVE,
                       default=objectives.rating.MAX_RMSE,
                       help="bless only a model with eval RMSE at most this")
    gates.add_argument("--rmse-tolerance", type=_NON_NEGATIVE,
                       default=objectives.rating.RMSE_TOLERANCE,
                       help="bless only if RMSE is at most this much above "
                            "the baseline's (the model served last)")
    gates.add_argument("--top-k", type=_POSITIVE_INT, default=configs.TOP_K,
                       help="recommendations per user the TopKEvaluator ranks")
    gates.add_argument("--topk-sample-users", type=_COUNT,
                       default=configs.TOPK_SAMPLE_USERS,
                       help="rank a seeded sample of this many users' "
                            "unseen pools (95 %% intervals per metric) "
                            "instead of every user's; for data past "
                            "MovieLens-1m size (default %(default)s: every "
                            "user)")
    gates.add_argument("--min-ndcg", type=_UNIT_INTERVAL,
                       default=configs.MIN_NDCG,
                       help="bless only a model with ndcg@k at least this")
    gates.add_argument("--ndcg-tolerance", type=_NON_NEGATIVE,
                       default=configs.NDCG_TOLERANCE,
                       help="bless only if ndcg@k is at most this much "
                            "below the baseline's (the model served last)")
    gates.add_argument("--min-auc", type=_UNIT_INTERVAL,
                       default=objectives.ranking.MIN_AUC,
                       help="ranking objective: bless only a model whose "
                            "eval AUC (rated vs sampled movies) is at least "
                            "this")
    gates.add_argument("--auc-tolerance", type=_NON_NEGATIVE,
                       default=objectives.ranking.AUC_TOLERANCE,
                       help="ranking objective: bless only if AUC is at most "
                            "this much below the baseline's (the model "
                            "served last)")
    gates.add_argument("--auc-user-fraction",
                       type=ranged(float, 0, 1, low_open=True),
                       default=objectives.ranking.AUC_USER_FRACTION,
                       help="ranking objective: measure AUC on the eval "
                            "ratings of a seeded sample of about this share "
                            "of the users; for data past MovieLens-1m size "
                            "(default %(default)s: every user)")
    published = parser.add_argument_group("batch recommendations")
    published.add_argument(
        "--recommendations-k", type=_COUNT, default=configs.RECOMMENDATIONS_K,
        help="the BatchRecommender writes every user's top this-many unseen "
             "movies from the served model (recommendations.csv and "
             ".tfrecord); 0 leaves it out (e.g. past MovieLens-1m size, "
             "where every user's pool is billions of pairs)")
    data = parser.add_argument_group("data")
    data.add_argument("--split", default=configs.DEFAULT_SPLIT,
                      choices=configs.SPLITS,
                      help="random: 75/25 hash split of all ratings "
                           "(default); user_stratified: each user's ratings "
                           "75/25, as Microsoft Recommenders' benchmarks")
    data.add_argument("--split-seed", type=_COUNT, default=configs.SPLIT_SEED,
                      help="seed of the user-stratified split")
    model = parser.add_argument_group(
        "model (defaults: the seed notebook for --objective rating, the "
        "tuned recipe of trainer_module/objectives/ranking.py for ranking)")
    model.add_argument("--recipe", default=objectives.rating.SEED_RECIPE,
                       choices=sorted(objectives.rating.RECIPES),
                       help="seed: the notebook's hyper-parameters "
                            "(default); fast: a 128-32-128 DNN for 20 "
                            "epochs, for larger data (docs/benchmarks.md); "
                            "the flags below override either")
    model.add_argument("--objective", default=None,
                       choices=features.OBJECTIVES,
                       help="rating: regress the rating (the seed's model, "
                            "default); ranking: classify rated movies "
                            "against sampled unrated ones")
    model.add_argument("--hidden-units", type=_layer_sizes, default=None,
                       help="DNN layer sizes, comma-separated ("
                            + recipe_defaults_text("hidden_units") + ")")
    model.add_argument("--no-batch-norm", action="store_true",
                       help="turn off the DNN's batch normalization")
    model.add_argument("--no-item-ease-feature", action="store_true",
                       help="ranking: leave out the movie's EASE score "
                            "(its table is 4 bytes per movie pair) and so "
                            "its blend into the served score")
    for name, (kind, text) in _HPARAM_FLAGS.items():
        if "default" not in text:
            text += f" ({recipe_defaults_text(name)})"
        model.add_argument("--" + name.replace("_", "-"), type=kind,
                           default=None, help=text)


def hparams_from_args(args: argparse.Namespace) -> HParams:
    """HParams of --recipe (the seed defaults unless given), overridden by
    the flags given."""
    values = {name: getattr(args, name) for name in _HPARAM_FLAGS
              if getattr(args, name) is not None}
    if args.objective:
        values["objective"] = args.objective
    if args.hidden_units:
        values["hidden_units"] = list(args.hidden_units)
    if args.no_batch_norm:
        values["batch_norm"] = False
    if args.no_item_ease_feature:
        values["item_ease_feature"] = False
        # No EASE score to blend, unless the flag asks for it (an error).
        values.setdefault("ease_blend_weight", 0.0)
    try:
        return objectives.recipe(args.recipe, values)
    except ValueError as error:  # flags that cannot go together
        raise ValueError(_with_flag_names(str(error))) from None


def _with_flag_names(message: str) -> str:
    """HParams' message with its field names spelt as the flags: the user
    typed --batch-size, not batch_size."""
    fields = [*_HPARAM_FLAGS, "hidden_units"]
    pattern = r"\b(" + "|".join(map(re.escape, fields)) + r")\b"
    return re.sub(pattern, lambda m: "--" + m.group(1).replace("_", "-"),
                  message)


def pipeline_settings(args: argparse.Namespace,
                      hparams: Optional[HParams] = None) -> Dict[str, Any]:
    """create_pipeline's objective, gates, split and batch output from
    add_pipeline_flags' flags (the same for every runner); the runner adds
    paths and runtime."""
    hparams = hparams or hparams_from_args(args)
    return dict(hparams=hparams,
                gates=gates_from_args(args, hparams.objective),
                split=Split(kind=args.split, seed=args.split_seed),
                recommendations_k=args.recommendations_k)


def gates_from_args(args: argparse.Namespace, objective: str) -> Gates:
    """Both evaluators' gates: the TopKEvaluator's flags, and the flags
    named as the fields of the objective's own TFMA gate (--max-rmse for
    rating, --min-auc for ranking, ...)."""
    tfma_gate = objectives.get(objective).Gate
    return Gates(
        tfma=tfma_gate(**{field.name: getattr(args, field.name)
                          for field in dataclasses.fields(tfma_gate)}),
        topk=TopKGate(k=args.top_k, min_ndcg=args.min_ndcg,
                      ndcg_tolerance=args.ndcg_tolerance,
                      sample_users=args.topk_sample_users))
