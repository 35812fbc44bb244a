"""Hyper-parameters of the wide-and-deep model, defaulting to the seed notebook.

The pipeline passes them to the Trainer in `custom_config`, so a changed
hyper-parameter changes the Trainer's cache key and re-trains.
"""
import dataclasses
from typing import Any, Dict, Tuple

# Key of the hyper-parameters inside the Trainer's custom_config.
CUSTOM_CONFIG_KEY = "hparams"


@dataclasses.dataclass(frozen=True)
class HParams:
    """The seed notebook's parameter cell (wide_deep_movielens.md)."""
    epochs: int = 50
    batch_size: int = 256
    # Wide part: FTRL over the crossed user x item column.
    linear_learning_rate: float = 0.0001
    linear_l1: float = 0.0
    crossed_hash_buckets: int = 1000
    # Deep part: Adagrad over user/item embeddings and the genre vector.
    dnn_learning_rate: float = 0.1
    hidden_units: Tuple[int, ...] = (1024, 32, 1024)
    user_embedding_dim: int = 64
    item_embedding_dim: int = 4
    dropout: float = 0.3
    batch_norm: bool = True
    # Fixed graph seed: two runs on the same data give the same model.
    random_seed: int = 123
    # When > 0, train exactly this many steps instead of
    # epochs * train rows / batch size.
    train_steps: int = 0

    def __post_init__(self):
        _check_positive(self, ("epochs", "batch_size", "crossed_hash_buckets",
                               "user_embedding_dim", "item_embedding_dim"))
        if not self.hidden_units or min(self.hidden_units) <= 0:
            raise ValueError(
                f"hidden_units must be positive layer sizes, got "
                f"{self.hidden_units}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        _check_positive(self, ("linear_learning_rate", "dnn_learning_rate"))
        if not self.linear_l1 >= 0:
            raise ValueError(f"linear_l1 must be >= 0, got {self.linear_l1}")
        if self.train_steps < 0:
            raise ValueError(f"train_steps must be >= 0, got {self.train_steps}")

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly form (lists, not tuples) for custom_config."""
        values = dataclasses.asdict(self)
        values["hidden_units"] = list(self.hidden_units)
        return values

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "HParams":
        """Inverse of to_dict; an unknown key is an error, not ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown hyper-parameters: {sorted(unknown)}")
        values = dict(values)
        if "hidden_units" in values:
            values["hidden_units"] = tuple(values["hidden_units"])
        return cls(**values)

    def steps_for(self, num_train_rows: int) -> int:
        """Training steps: the explicit count, else epochs over the rows."""
        if self.train_steps:
            return self.train_steps
        return max(1, self.epochs * num_train_rows // self.batch_size)


def _check_positive(hparams: HParams, names: Tuple[str, ...]) -> None:
    for name in names:
        # `not > 0` also refuses NaN.
        if not getattr(hparams, name) > 0:
            raise ValueError(
                f"{name} must be positive, got {getattr(hparams, name)}")
