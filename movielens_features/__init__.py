"""The single source of feature names, vocabulary names and value domains.

Every other module (data conversion, preprocessing, model, pipeline, custom
components, tests) takes column names from here. A package of its own, the
bottom layer (docs/architecture.md): the data command and the trainer code
both import it, and neither imports the other. Imports nothing but the
standard library.
"""
from typing import Tuple

# Raw columns of the pipeline CSV, in file order.
USER_KEY = "user_id"
ITEM_KEY = "item_id"
LABEL_KEY = "rating"
TIMESTAMP_KEY = "timestamp"
GENRES_KEY = "genres"
CSV_COLUMNS: Tuple[str, ...] = (
    USER_KEY, ITEM_KEY, LABEL_KEY, TIMESTAMP_KEY, GENRES_KEY)

# The raw features a served model receives (everything but the label; the
# timestamp is not a model input).
SERVING_FEATURE_KEYS: Tuple[str, ...] = (USER_KEY, ITEM_KEY, GENRES_KEY)

# The exported model's signatures (trainer_module/model.py says what they
# take and return); the Pusher refuses a model that lacks one.
SERVING_SIGNATURE = "serving_default"
RAW_SIGNATURE = "serving_raw"
TOPK_SIGNATURE = "serving_topk"
SIGNATURES: Tuple[str, ...] = (SERVING_SIGNATURE, RAW_SIGNATURE,
                               TOPK_SIGNATURE)

# Genres inside the `genres` column are joined by this separator.
GENRE_SEPARATOR = "|"

# MovieLens genres across the 100K, 1M, 10M, 20M and 25M releases, in
# canonical spelling (the parsers map "Children" to "Children's" and
# "(no genres listed)" to no genre). The multi-hot vector has one slot per
# entry, in this order.
GENRES: Tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    "unknown",
)

# A feature TFMA derives from `genres` with one value per genre, so the
# Evaluator reports metrics per genre (trainer_module/tfma_extractors.py).
GENRE_SLICE_KEY = "genre"

# Valid ratings: whole stars 1-5 in 100K/1M, half stars from 0.5 in 10M+.
RATING_MIN = 0.5
RATING_MAX = 5.0

# Training objectives (HParams.objective, and Transform's custom_config).
# "rating" regresses the explicit rating (the seed notebook); "ranking"
# classifies rated (user, item) pairs against sampled unrated ones, and the
# logit ranks the pool.
RATING_OBJECTIVE = "rating"
RANKING_OBJECTIVE = "ranking"
OBJECTIVES: Tuple[str, ...] = (RATING_OBJECTIVE, RANKING_OBJECTIVE)

# Column the NegativeSampler adds to every raw column: 1 for a rated pair, 0
# for a sampled negative (whose rating is 0.0, below RATING_MIN).
SAMPLED_LABEL_KEY = "label"

# Transform outputs.
USER_VOCAB_NAME = "user_id_vocab"
ITEM_VOCAB_NAME = "item_id_vocab"
# Derived in the Trainer and the served model from user_id_xf
# (trainer_module/history.py), not by Transform: the items the user rated in
# the train split, but the row's own.
USER_HISTORY_XF = "user_history_xf"
# Derived alongside it: the candidate's EASE score against that history (an
# item-item ridge regression over the train split, the user's own row left
# out), one float.
ITEM_EASE_XF = "item_ease_xf"
# Every id absent from the training vocabulary maps to this many extra
# buckets (index == vocabulary size), never to -1.
NUM_OOV_BUCKETS = 1


def transformed_name(key: str) -> str:
    """Name of the Transform output for raw feature `key`."""
    return key + "_xf"
