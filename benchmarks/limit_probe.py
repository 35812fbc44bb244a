"""What this machine can do with the seed model's math, outside any framework.

    .venv/bin/python benchmarks/limit_probe.py --seconds 20 --out probe.json

The seed wide-and-deep model written as plain TensorFlow 2: the wide part
(hashed user x item cross, 1,000 buckets, FTRL), the deep part (user and item
embeddings and the genre vector into 1024-32-1024 ReLU layers, each with
dropout then batch normalization, Adagrad), one squared-error loss. Two
figures, both on in-memory tensors so input costs nothing:

- train steps/s: one fused tf.function training step on batches of 256 (the
  Trainer's and the notebook's steps/s are compared with this);
- scoring pairs/s: the inference forward pass on batches of 32,768 pairs (the
  TopKEvaluator's pairs/s is compared with this).

It is a ceiling, not a recipe: no input pipeline, no feature columns, no
checkpoints, no Transform graph.
"""
import argparse
import os
import sys
import time
from typing import Dict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from benchmarks import common  # noqa: E402
import movielens_features as features  # noqa: E402
from trainer_module.hparams import HParams  # noqa: E402

# MovieLens-100k's size: users and items of the vocabularies (OOV included).
NUM_USERS, NUM_ITEMS = 944, 1683
SCORING_BATCH = 32768


class WideDeep(tf.Module):
    """The canned DNNLinearCombinedRegressor's math for `hparams`."""

    def __init__(self, hparams: HParams):
        super().__init__()
        init = tf.random_normal_initializer(stddev=0.05, seed=1)
        self.buckets = hparams.crossed_hash_buckets
        self.wide = tf.Variable(tf.zeros([self.buckets, 1]))
        self.bias = tf.Variable(tf.zeros([1]))
        self.users = tf.Variable(init([NUM_USERS, hparams.user_embedding_dim]))
        self.items = tf.Variable(init([NUM_ITEMS, hparams.item_embedding_dim]))
        self.layers = []
        for units in hparams.hidden_units:
            self.layers.append((
                tf.keras.layers.Dense(units, activation="relu"),
                tf.keras.layers.Dropout(hparams.dropout),
                tf.keras.layers.BatchNormalization(momentum=0.999)))
        self.logit = tf.keras.layers.Dense(1)

    def __call__(self, users, items, genres, training: bool):
        cross = tf.sparse.cross_hashed([users[:, None], items[:, None]],
                                       num_buckets=self.buckets)
        wide = tf.nn.embedding_lookup_sparse(self.wide, cross, None,
                                             combiner="sum") + self.bias
        net = tf.concat([tf.gather(self.users, users),
                         tf.gather(self.items, items), genres], axis=1)
        for dense, dropout, norm in self.layers:
            net = norm(dropout(dense(net), training=training),
                       training=training)
        return tf.squeeze(wide + self.logit(net), axis=1)

    @property
    def wide_variables(self):
        return [self.wide, self.bias]


def random_batch(size: int, seed: int) -> Dict[str, tf.Tensor]:
    rng = np.random.default_rng(seed)
    return {
        "users": tf.constant(rng.integers(0, NUM_USERS, size), tf.int64),
        "items": tf.constant(rng.integers(0, NUM_ITEMS, size), tf.int64),
        "genres": tf.constant(rng.integers(0, 2, (size, len(features.GENRES)))
                              .astype(np.float32)),
        "labels": tf.constant(rng.integers(1, 6, size).astype(np.float32)),
    }


def train_steps_per_second(hparams: HParams, seconds: float) -> float:
    model = WideDeep(hparams)
    ftrl = tf.keras.optimizers.legacy.Ftrl(hparams.linear_learning_rate)
    adagrad = tf.keras.optimizers.legacy.Adagrad(hparams.dnn_learning_rate)
    batch = random_batch(hparams.batch_size, seed=0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            predictions = model(batch["users"], batch["items"],
                                batch["genres"], training=True)
            loss = tf.reduce_mean(tf.square(predictions - batch["labels"]))
        wide = model.wide_variables
        deep = [v for v in model.trainable_variables
                if all(v is not w for w in wide)]
        gradients = tape.gradient(loss, wide + deep)
        ftrl.apply_gradients(zip(gradients[:len(wide)], wide))
        adagrad.apply_gradients(zip(gradients[len(wide):], deep))
        return loss
    return _rate(lambda: step().numpy(), seconds)


def scoring_pairs_per_second(hparams: HParams, seconds: float) -> float:
    model = WideDeep(hparams)
    batch = random_batch(SCORING_BATCH, seed=1)
    forward = tf.function(lambda: model(batch["users"], batch["items"],
                                        batch["genres"], training=False))
    return _rate(lambda: forward().numpy(), seconds) * SCORING_BATCH


def _rate(call, seconds: float) -> float:
    """Calls per second over `seconds`, after a warm-up (tracing) call."""
    call()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - started)


def probe(seconds: float = 20.0, hparams: HParams = HParams()) -> Dict:
    return {
        "train_steps_per_second": round(
            train_steps_per_second(hparams, seconds), 1),
        "batch_size": hparams.batch_size,
        "scoring_pairs_per_second": round(
            scoring_pairs_per_second(hparams, seconds)),
        "scoring_batch": SCORING_BATCH,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="measuring time of each figure")
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args()
    common.print_json(probe(args.seconds), args.out)


if __name__ == "__main__":
    main()
