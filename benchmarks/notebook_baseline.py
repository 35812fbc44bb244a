"""The seed notebook's recipe as written, on the pipeline's own split; no TFX.

    .venv/bin/python benchmarks/notebook_baseline.py \
        --examples <CsvExampleGen output folder> --out baseline.json

What the notebook (shared/seed/wide_deep_movielens.md) does, step by step:
reads the train and eval splits that CsvExampleGen wrote (gzipped
tf.Examples; the notebook splits 75/25 itself, here both sides see the same
rows) into pandas; multi-hot encodes the genres (MultiLabelBinarizer's
sorted classes); builds its `tf_utils.build_model`: a
DNNLinearCombinedRegressor on vocabulary-list user and item columns, their
hashed cross in the wide part, max-norm embeddings and the genre vector in
the deep part, FTRL and Adagrad from its parameter cell; trains with its
`pandas_input_fn` (from_tensor_slices, shuffle buffer 1000, batch 256) for
EPOCHS * len(train) // BATCH_SIZE steps; then `Estimator.predict` over the
eval split (rating metrics) and over every (user, item) pair not in train
(ranking metrics @ TOP_K), with pandas_input_fn's default batch of 128.

The notebook's TF1 `tf.estimator` and `tf.train` optimizers are TF 2.15's
`tf.compat.v1.estimator` and `tf.compat.v1.train`. Left out: the
evaluation hook that scores the pool five times during training
(EVALUATE_WHILE_TRAINING), which only logs, and would make the notebook
slower, so the comparison is the stricter for the pipeline without it.
Metrics are the project's own Recommenders-equal functions.
"""
import argparse
import glob
import os
import sys
import tempfile
import time
from typing import Dict, List, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import common  # noqa: E402
from recommender import metrics  # noqa: E402  (no TFX)
import movielens_features as features  # noqa: E402
from trainer_module import raw_examples  # noqa: E402

# The notebook's parameter cell.
TOP_K = 10
EPOCHS = 50
BATCH_SIZE = 256
LINEAR_OPTIMIZER_LR = 0.0001
LINEAR_L1_REG = 0.0
DNN_OPTIMIZER_LR = 0.1
DNN_HIDDEN_UNITS = [1024, 32, 1024]
DNN_USER_DIM = 64
DNN_ITEM_DIM = 4
DNN_DROPOUT = 0.3
DNN_BATCH_NORM = True
CROSSED_HASH_BUCKETS = 1000
# tf_utils.pandas_input_fn: shuffle buffer, and batch when none is given.
SHUFFLE_BUFFER = 1000
# Canned estimator versions (--estimator).
V1, V2 = "v1", "v2"
PREDICT_BATCH_SIZE = 128
GENRES_FEATURE = "genres_multi_hot"


def read_split(examples_dir: str, split: str) -> pd.DataFrame:
    """user_id, item_id, rating, genres of CsvExampleGen's Split-<split>."""
    files = sorted(glob.glob(os.path.join(examples_dir, f"Split-{split}",
                                          "*.gz")))
    if not files:
        raise SystemExit(f"error: no {split} examples under {examples_dir}")
    columns: Dict[str, List[np.ndarray]] = {
        key: [] for key in raw_examples.RATING_KEYS}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    for batch in dataset.batch(8192):
        for key, values in raw_examples.parse(
                batch, raw_examples.RATING_KEYS).items():
            columns[key].append(values.numpy())
    frame = pd.DataFrame({key: np.concatenate(values)
                          for key, values in columns.items()})
    frame[features.GENRES_KEY] = frame[features.GENRES_KEY].str.decode("utf-8")
    return frame


def multi_hot_genres(train: pd.DataFrame, eval_: pd.DataFrame
                     ) -> Tuple[pd.DataFrame, pd.DataFrame, int]:
    """The notebook's MultiLabelBinarizer: one slot per genre of the data,
    in sorted order, as a float vector column."""
    def split(frame):
        return frame[features.GENRES_KEY].map(
            lambda text: [g for g in text.split(features.GENRE_SEPARATOR) if g])
    classes = sorted(set().union(*split(train), *split(eval_)))
    index = {genre: slot for slot, genre in enumerate(classes)}

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        vectors = np.zeros((len(frame), len(classes)), np.float32)
        for row, genres in enumerate(split(frame)):
            vectors[row, [index[g] for g in genres]] = 1.0
        frame = frame.drop(columns=[features.GENRES_KEY])
        frame[GENRES_FEATURE] = list(vectors)
        return frame
    return encode(train), encode(eval_), len(classes)


def pandas_input_fn(frame: pd.DataFrame, y_col=None,
                    batch_size: int = PREDICT_BATCH_SIZE, num_epochs=1,
                    shuffle: bool = False,
                    shuffle_buffer: int = SHUFFLE_BUFFER):
    """Recommenders' tf_utils.pandas_input_fn (shuffle_buffer: its 1,000;
    len(frame) for a full shuffle, as the pipeline's Trainer)."""
    x_frame = frame.copy()
    y = x_frame.pop(y_col).values if y_col is not None else None
    x = {}
    for column in x_frame.columns:
        values = x_frame[column].values
        if isinstance(values[0], (list, np.ndarray)):
            values = np.array(values.tolist(), dtype=np.float32)
        x[column] = values

    def input_fn():
        dataset = tf.data.Dataset.from_tensor_slices(
            x if y is None else (x, y))
        if shuffle:
            dataset = dataset.shuffle(shuffle_buffer,
                                      reshuffle_each_iteration=True)
        return dataset.repeat(num_epochs).batch(batch_size)
    return input_fn


def build_model(users: np.ndarray, items: np.ndarray, num_genres: int,
                model_dir: str, train_steps: int, estimator: str = V1):
    """Recommenders' tf_utils.build_model for model_type 'wide_deep'.

    estimator V2: the same model as TF2's canned estimator (Keras legacy
    optimizers, the summed loss of V1), the one the pipeline trains."""
    user_ids = tf.feature_column.categorical_column_with_vocabulary_list(
        features.USER_KEY, users)
    item_ids = tf.feature_column.categorical_column_with_vocabulary_list(
        features.ITEM_KEY, items)
    wide_columns = [tf.feature_column.crossed_column(
        [user_ids, item_ids], hash_bucket_size=CROSSED_HASH_BUCKETS)]
    deep_columns = [
        tf.feature_column.embedding_column(
            user_ids, dimension=DNN_USER_DIM, max_norm=DNN_USER_DIM ** .5),
        tf.feature_column.embedding_column(
            item_ids, dimension=DNN_ITEM_DIM, max_norm=DNN_ITEM_DIM ** .5),
        tf.feature_column.numeric_column(GENRES_FEATURE, shape=num_genres,
                                         dtype=tf.float32),
    ]
    config = tf.estimator.RunConfig(
        log_step_count_steps=max(1, train_steps // 20),
        save_checkpoints_steps=max(1, train_steps // 5))
    if estimator == V2:
        regressor, ftrl, adagrad = (
            tf.estimator.DNNLinearCombinedRegressor,
            tf.keras.optimizers.legacy.Ftrl,
            tf.keras.optimizers.legacy.Adagrad)
        # V1's default; V2's own averages over the batch.
        version_args = {"loss_reduction": tf.keras.losses.Reduction.SUM}
    else:
        regressor, ftrl, adagrad = (
            tf.compat.v1.estimator.DNNLinearCombinedRegressor,
            tf.compat.v1.train.FtrlOptimizer,
            tf.compat.v1.train.AdagradOptimizer)
        version_args = {}
    return regressor(
        model_dir=model_dir, config=config,
        linear_feature_columns=wide_columns,
        linear_optimizer=ftrl(learning_rate=LINEAR_OPTIMIZER_LR,
                              l1_regularization_strength=LINEAR_L1_REG),
        dnn_feature_columns=deep_columns,
        dnn_hidden_units=DNN_HIDDEN_UNITS,
        dnn_optimizer=adagrad(learning_rate=DNN_OPTIMIZER_LR),
        dnn_dropout=DNN_DROPOUT,
        batch_norm=DNN_BATCH_NORM,
        **version_args)


def unseen_pool(train: pd.DataFrame, eval_: pd.DataFrame,
                eval_encoded: pd.DataFrame, train_encoded: pd.DataFrame
                ) -> pd.DataFrame:
    """Every user x every item of the data, minus the train pairs, with the
    item's genre vector (Recommenders' user_item_pairs with a filter)."""
    users = np.union1d(train[features.USER_KEY], eval_[features.USER_KEY])
    item_genres = pd.concat([train_encoded, eval_encoded]).drop_duplicates(
        features.ITEM_KEY)[[features.ITEM_KEY, GENRES_FEATURE]]
    pairs = pd.MultiIndex.from_product(
        [users, item_genres[features.ITEM_KEY].to_numpy()],
        names=[features.USER_KEY, features.ITEM_KEY]).to_frame(index=False)
    seen = train[[features.USER_KEY, features.ITEM_KEY]].drop_duplicates()
    pairs = pairs.merge(seen, how="left", indicator=True)
    pairs = pairs[pairs["_merge"] == "left_only"].drop(columns="_merge")
    return pairs.merge(item_genres, on=features.ITEM_KEY, how="left")


def predict(model, frame: pd.DataFrame) -> np.ndarray:
    return np.array([p["predictions"][0]
                     for p in model.predict(pandas_input_fn(frame))])


def run(examples_dir: str, epochs: int = EPOCHS, estimator: str = V1,
        full_shuffle: bool = False) -> Dict:
    started = time.time()
    train = read_split(examples_dir, "train")
    eval_ = read_split(examples_dir, "eval")
    train_x, eval_x, num_genres = multi_hot_genres(train, eval_)
    read_seconds = time.time() - started
    both = pd.concat([train, eval_])
    train_steps = epochs * len(train) // BATCH_SIZE
    with tempfile.TemporaryDirectory(prefix="notebook-model-") as model_dir:
        model = build_model(
            both[features.USER_KEY].drop_duplicates().to_numpy(),
            both[features.ITEM_KEY].drop_duplicates().to_numpy(),
            num_genres, model_dir, train_steps, estimator)
        tick = time.time()
        model.train(pandas_input_fn(train_x, y_col=features.LABEL_KEY,
                                    batch_size=BATCH_SIZE, num_epochs=None,
                                    shuffle=True, shuffle_buffer=len(train_x)
                                    if full_shuffle else SHUFFLE_BUFFER),
                    steps=train_steps)
        train_seconds = time.time() - tick

        tick = time.time()
        rated = eval_x.drop(columns=[features.LABEL_KEY])
        rated[metrics.DEFAULT_PREDICTION_COL] = predict(
            model, eval_x.drop(columns=[features.LABEL_KEY]))
        rating = metrics.rating_metrics(eval_, rated)
        rating_seconds = time.time() - tick

        tick = time.time()
        pool = unseen_pool(train, eval_, eval_x, train_x)
        pool_seconds = time.time() - tick
        tick = time.time()
        pool[metrics.DEFAULT_PREDICTION_COL] = predict(model, pool)
        scoring_seconds = time.time() - tick
        ranking = metrics.ranking_metrics(eval_, pool, TOP_K)
    return {
        "estimator": estimator, "full_shuffle": full_shuffle,
        "train_rows": len(train), "eval_rows": len(eval_),
        "train_steps": train_steps, "batch_size": BATCH_SIZE,
        "seconds": {"read": round(read_seconds, 2),
                    "train": round(train_seconds, 2),
                    "predict_eval": round(rating_seconds, 2),
                    "build_pool": round(pool_seconds, 2),
                    "score_pool": round(scoring_seconds, 2),
                    "total": round(time.time() - started, 2)},
        "train_steps_per_second": round(train_steps / train_seconds, 2),
        "pool_pairs": len(pool),
        "pool_pairs_per_second": round(len(pool) / scoring_seconds),
        "metrics": {**{name: round(value, 4) for name, value in rating.items()},
                    **{name: round(value, 4) for name, value in ranking.items()
                       if name != "num_users"}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", required=True,
                        help="CsvExampleGen output folder (holds Split-train "
                             "and Split-eval)")
    parser.add_argument("--epochs", type=int, default=EPOCHS,
                        help="the notebook's EPOCHS (50)")
    parser.add_argument("--estimator", choices=(V1, V2), default=V1,
                        help="v1: the notebook's TF1 canned estimator and "
                             "tf.train optimizers (default); v2: TF2's, as "
                             "the pipeline")
    parser.add_argument("--full-shuffle", action="store_true",
                        help="shuffle the whole train split every epoch, as "
                             "the pipeline, instead of a 1,000-row buffer")
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args()
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    result = run(args.examples, args.epochs, args.estimator,
                 args.full_shuffle)
    common.print_json(result, args.out)


if __name__ == "__main__":
    main()
