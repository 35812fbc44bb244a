"""What a training objective is: everything the pipeline, the trainer, the
served model and the report do differently per objective (rating.py,
ranking.py), so none of them branches on the objective's name."""
import abc
from typing import Any, NamedTuple, Tuple

from trainer_module.hparams import HParams


class ReportView(NamedTuple):
    """What the report and the recommend command show of the objective."""
    title: str  # for the header
    tfma_order: Tuple[str, ...]  # TFMA's overall table order (others follow)
    slice_columns: Tuple[Tuple[str, str], ...]  # per genre: (column, metric)
    headline: str  # the slice column of the per-genre figure and delta
    prediction_column: str  # the recommendations' value column


class Objective(abc.ABC):
    """One training objective. Subclasses set the class attributes and
    implement the methods; the instances are objectives.RATING and
    objectives.RANKING."""
    name: str
    # The estimator predict output that ranks: the regressor's rating
    # ("predictions") or the classifier's logit ("logits").
    score_output: str
    # The raw column TFMA reads as the label.
    tfma_label_key: str
    # The TFMA Evaluator's gate of this objective (a frozen dataclass whose
    # fields are also local_runner's flag names).
    Gate: type
    # Negatives the NegativeSampler adds per eval rating for TFMA; 0: TFMA
    # reads the eval ratings as they are, with no sampler.
    eval_negatives_per_positive: int = 0
    # Whether the TopKEvaluator also reports rmse and mae of the scores
    # (they are ratings only for the rating objective).
    scores_are_ratings: bool = False
    # Whether the TopKEvaluator ranks with EASE alone too: the simplest
    # reference a ranking model has to beat.
    ease_reference: bool = False
    report: ReportView

    @abc.abstractmethod
    def default_hparams(self) -> HParams:
        """The model this objective trains unless told otherwise."""

    @abc.abstractmethod
    def estimator_class(self) -> type:
        """The canned wide-and-deep estimator: its head is the objective's
        loss."""

    @abc.abstractmethod
    def label(self, rating: "tf.Tensor") -> "tf.Tensor":
        """Transform's float label from the raw rating column."""

    @abc.abstractmethod
    def to_prediction(self, scores: "tf.Tensor") -> "tf.Tensor":
        """The served prediction from the score."""

    @abc.abstractmethod
    def eval_config(self, gate: Any) -> "tfma.EvalConfig":  # noqa: F821
        """TFMA's metrics, overall and per genre, gated by `gate` (an
        instance of self.Gate) on the overall slice."""

    def check_gate(self, gate: Any) -> None:
        """Refuses another objective's gate."""
        if not isinstance(gate, self.Gate):
            raise ValueError(f"the {self.name} objective is gated by "
                             f"{self.Gate.__module__}.Gate, got "
                             f"{type(gate).__module__}.{type(gate).__name__}")

    def __repr__(self) -> str:
        return f"<objective {self.name}>"


def sliced_eval_config(label_key: str, metrics: Tuple[Tuple[str, str], ...],
                       gated_metric: Tuple[str, str], bound: float,
                       tolerance: float, lower_is_better: bool
                       ) -> "tfma.EvalConfig":  # noqa: F821
    """TFMA on the overall and per-genre slices: the example count,
    `metrics` and `gated_metric` ((class name, module; "" for TFMA's own)),
    the last gated on the overall slice only (a small genre may be noisy
    without the model being worse): at most (lower_is_better) or at least
    `bound`, and no worse than the baseline's beyond `tolerance`."""
    # Imported here: 1.7 s that the report and recommend commands, which
    # read the objectives' views, do not need.
    import tensorflow_model_analysis as tfma

    import movielens_features as features
    direction = (tfma.MetricDirection.LOWER_IS_BETTER if lower_is_better
                 else tfma.MetricDirection.HIGHER_IS_BETTER)
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            **{"upper_bound" if lower_is_better else "lower_bound":
               {"value": bound}}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=direction,
            absolute={"value": tolerance if lower_is_better else -tolerance}))
    gated = tfma.MetricConfig(
        class_name=gated_metric[0], module=gated_metric[1],
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()], threshold=threshold)])
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=features.SERVING_SIGNATURE,
                                    label_key=label_key)],
        slicing_specs=[
            tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=[features.GENRE_SLICE_KEY]),
        ],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            *(tfma.MetricConfig(class_name=name, module=module)
              for name, module in metrics),
            gated,
        ])])
