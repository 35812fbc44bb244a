"""Top-k ranking and rating metrics for evaluating the recommender.

Definitions follow Microsoft Recommenders
`recommenders.evaluation.python_evaluation` (v1.2) with binary relevance:
every truth row of a user is relevant, whatever its rating, and only users
present in both truth and predictions are counted.

Ranking is split in three steps so it can stream over shards of users, e.g.
inside a Beam CombineFn:

1. `top_k_per_user` ranks one shard's (user, item, score) arrays.
2. `ranking_partial_sums` scores those lists against the shard's truth and
   returns a `RankingSums`; sums of different shards combine with `+`.
3. `finalize_ranking_metrics` turns the combined sums into the metric dict.

Shards must partition users: every prediction and truth row of a user goes
to the same shard, or the user is dropped or counted twice.

Ties: equal scores are ordered by item id ascending, so results do not
depend on row order. Recommenders keeps input order for ties (stable sort);
both agree whenever each user's rows are sorted by item id.
"""
import dataclasses
import functools
from typing import Any, Dict, Iterable, NamedTuple, Tuple

import numpy as np
import pandas as pd

from movielens_features import ITEM_KEY, LABEL_KEY, USER_KEY

# Default score column of prediction frames (Recommenders' name for it).
DEFAULT_PREDICTION_COL = "prediction"

RANKING_METRIC_NAMES: Tuple[str, ...] = (
    "precision@k", "recall@k", "ndcg@k", "map", "map@k")


class TopK(NamedTuple):
    """Flat top-k lists of one shard, ordered by user id, then rank.

    Row j recommends `item_ids[j]` to `user_ids[j]` at 1-based `ranks[j]`.
    A user with fewer than k candidates has fewer than k rows.
    """
    user_ids: np.ndarray
    item_ids: np.ndarray
    ranks: np.ndarray
    k: int


class UserRankingTerms(NamedTuple):
    """Per-user ranking terms of the users in both top-k lists and truth."""
    user_ids: np.ndarray
    n_relevant: np.ndarray  # distinct truth items of the user
    hits: np.ndarray  # relevant items among the top k
    dcg: np.ndarray  # sum over hits of 1 / ln(1 + rank)
    idcg: np.ndarray  # sum over i <= min(n_relevant, k) of 1 / ln(1 + i)
    ap_numerator: np.ndarray  # sum over hits of hit_ordinal / rank
    k: int


@dataclasses.dataclass(frozen=True)
class RankingSums:
    """Additive ranking accumulator: per-user metric terms summed over users.

    Each field but `k` is a sum over users, so shards combine with `+`;
    `finalize_ranking_metrics` divides by `num_users`.
    """
    k: int
    num_users: int = 0
    precision: float = 0.0  # sum of hits / k
    recall: float = 0.0  # sum of hits / n_relevant
    ndcg: float = 0.0  # sum of dcg / idcg
    average_precision: float = 0.0  # sum of ap_numerator / n_relevant
    average_precision_at_k: float = 0.0  # ... / min(n_relevant, k)
    # Sums of each per-user term squared, in RANKING_METRIC_NAMES' order:
    # what a confidence interval over a sample of users needs.
    squares: Tuple[float, ...] = (0.0,) * 5

    def __post_init__(self):
        # A tuple whatever it came as (JSON gives a list).
        object.__setattr__(self, "squares", tuple(self.squares))

    def __add__(self, other: "RankingSums") -> "RankingSums":
        if not isinstance(other, RankingSums):
            return NotImplemented
        if other.k != self.k:
            raise ValueError(f"cannot add sums for k={self.k} and k={other.k}")
        totals = {field.name: getattr(self, field.name) + getattr(other, field.name)
                  for field in dataclasses.fields(self)
                  if field.name not in ("k", "squares")}
        squares = tuple(a + b for a, b in zip(self.squares, other.squares))
        return RankingSums(k=self.k, squares=squares, **totals)


# ---------------------------------------------------------------- top k


def top_k_per_user(user_ids: np.ndarray, item_ids: np.ndarray,
                   scores: np.ndarray, k: int) -> TopK:
    """Returns each user's k best items by score (ties: item id ascending).

    Vectorised, no per-user loop. (user, item) pairs must be unique. Scores
    are compared as float64; NaN scores are rejected.
    """
    _check_k(k)
    user_ids, item_ids, scores = _as_pair_arrays(user_ids, item_ids, scores)
    if user_ids.size == 0:
        return TopK(user_ids, item_ids, np.zeros(0, np.int64), k)
    user_codes = _order_preserving_codes(user_ids)
    candidates = _top_k_candidates(user_codes, scores, k)
    return _rank_candidates(user_ids[candidates], item_ids[candidates],
                            scores[candidates], user_codes[candidates], k)


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _as_pair_arrays(user_ids: Any, item_ids: Any, scores: Any
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)  # negating unsigned ints wraps
    if not user_ids.ndim == item_ids.ndim == scores.ndim == 1:
        raise ValueError("user_ids, item_ids and scores must be 1-D")
    if not user_ids.size == item_ids.size == scores.size:
        raise ValueError("user_ids, item_ids and scores differ in length")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    return user_ids, item_ids, scores


def _order_preserving_codes(values: np.ndarray) -> np.ndarray:
    """Non-negative int64 codes < 2**31 that sort like `values`."""
    if np.issubdtype(values.dtype, np.integer) and values.size:
        offsets = values - values.min()
        # Plain offsets skip a hash pass over millions of ids.
        if int(offsets.max()) < 2**31:
            return offsets.astype(np.int64)
    codes, _ = pd.factorize(values, sort=True)
    return codes.astype(np.int64)


def _top_k_candidates(user_codes: np.ndarray, scores: np.ndarray,
                      k: int) -> np.ndarray:
    """Indices of a superset of the pairs in their user's exact top k.

    One argsort of a packed uint64 key (user code, descending float32 score)
    yields each user's k-th best float32 score. float32 rounding is monotonic,
    so every exact top-k pair (ties included) scores at least that threshold;
    only the few survivors then need the exact, slower lexsort.
    """
    key = ((user_codes.astype(np.uint64) << np.uint64(32))
           | _descending_float32_bits(scores))
    order = np.argsort(key)
    sorted_key = key[order]
    starts, sizes = _run_bounds(sorted_key >> np.uint64(32))
    kth_key = sorted_key[starts + np.minimum(sizes, k) - 1]
    return order[sorted_key <= np.repeat(kth_key, sizes)]


def _descending_float32_bits(scores: np.ndarray) -> np.ndarray:
    """uint64 keys whose ascending order is the scores' descending order."""
    # Adding +0.0 maps -0.0 to +0.0, so equal scores get equal bits.
    bits = (scores.astype(np.float32) + np.float32(0.0)).view(np.uint32)
    negative = (bits >> np.uint32(31)).astype(bool)
    ascending = np.where(negative, ~bits, bits | np.uint32(0x80000000))
    return (~ascending).astype(np.uint64)


def _run_bounds(sorted_values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal values."""
    is_start = np.ones(sorted_values.size, dtype=bool)
    is_start[1:] = sorted_values[1:] != sorted_values[:-1]
    starts = np.flatnonzero(is_start)
    sizes = np.diff(np.append(starts, sorted_values.size))
    return starts, sizes


def _positions_in_runs(sorted_values: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal values."""
    starts, sizes = _run_bounds(sorted_values)
    return np.arange(sorted_values.size) - np.repeat(starts, sizes)


def _rank_candidates(user_ids: np.ndarray, item_ids: np.ndarray,
                     scores: np.ndarray, user_codes: np.ndarray,
                     k: int) -> TopK:
    """Exact ranking of the candidates: user, score desc, item id asc."""
    item_codes = _order_preserving_codes(item_ids)
    order = np.lexsort((item_codes, -scores, user_codes))
    ranks = _positions_in_runs(user_codes[order]) + 1
    keep = order[ranks <= k]
    return TopK(user_ids[keep], item_ids[keep], ranks[ranks <= k], k)


# ---------------------------------------------------------- ranking sums


def per_user_ranking_terms(top_k: TopK, truth_user_ids: np.ndarray,
                           truth_item_ids: np.ndarray) -> UserRankingTerms:
    """Returns hits, DCG, IDCG, AP numerator and n_relevant per common user.

    Users only in `top_k` or only in truth are left out. Duplicate truth
    pairs count once.
    """
    truth_user_ids = np.asarray(truth_user_ids)
    truth_item_ids = np.asarray(truth_item_ids)
    n_top = top_k.user_ids.size
    user_codes, users = pd.factorize(
        np.concatenate([top_k.user_ids, truth_user_ids]))
    item_codes, items = pd.factorize(
        np.concatenate([top_k.item_ids, truth_item_ids]))
    pair_keys = user_codes.astype(np.int64) * len(items) + item_codes
    top_keys, truth_keys = pair_keys[:n_top], np.unique(pair_keys[n_top:])
    top_user_codes = user_codes[:n_top]

    n_relevant = np.bincount(truth_keys // max(len(items), 1),
                             minlength=len(users))
    is_common = np.zeros(len(users), dtype=bool)
    is_common[top_user_codes] = True
    is_common &= n_relevant > 0

    is_hit = np.isin(top_keys, truth_keys)
    hits, dcg, ap_numerator = _hit_sums(
        top_user_codes[is_hit], top_k.ranks[is_hit], len(users))
    n_relevant = n_relevant[is_common]
    return UserRankingTerms(
        user_ids=users[is_common], n_relevant=n_relevant,
        hits=hits[is_common], dcg=dcg[is_common],
        idcg=_ideal_dcg(n_relevant, top_k.k),
        ap_numerator=ap_numerator[is_common], k=top_k.k)


def _hit_sums(hit_users: np.ndarray, hit_ranks: np.ndarray, n_users: int
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-user hit count, DCG and AP numerator of the hit rows."""
    order = np.lexsort((hit_ranks, hit_users))  # hit ordinals need rank order
    hit_users, hit_ranks = hit_users[order], hit_ranks[order]
    ordinals = _positions_in_runs(hit_users) + 1
    hits = np.bincount(hit_users, minlength=n_users)
    dcg = np.bincount(hit_users, weights=1.0 / np.log1p(hit_ranks),
                      minlength=n_users)
    ap_numerator = np.bincount(hit_users, weights=ordinals / hit_ranks,
                               minlength=n_users)
    return hits, dcg, ap_numerator


def _ideal_dcg(n_relevant: np.ndarray, k: int) -> np.ndarray:
    """DCG of a ranking whose first min(n_relevant, k) items are relevant."""
    cumulative = np.cumsum(1.0 / np.log1p(np.arange(1, k + 1)))
    return cumulative[np.minimum(n_relevant, k) - 1]


def sum_user_terms(terms: UserRankingTerms) -> RankingSums:
    """Sums the per-user metric terms into an additive `RankingSums`."""
    n_relevant = terms.n_relevant.astype(np.float64)
    per_user = (terms.hits / terms.k, terms.hits / n_relevant,
                terms.dcg / terms.idcg, terms.ap_numerator / n_relevant,
                terms.ap_numerator / np.minimum(n_relevant, terms.k))
    return RankingSums(
        k=terms.k,
        num_users=int(terms.user_ids.size),
        precision=float(per_user[0].sum()),
        recall=float(per_user[1].sum()),
        ndcg=float(per_user[2].sum()),
        average_precision=float(per_user[3].sum()),
        average_precision_at_k=float(per_user[4].sum()),
        squares=tuple(float(np.square(values).sum()) for values in per_user))


def ranking_partial_sums(top_k: TopK, truth_user_ids: np.ndarray,
                         truth_item_ids: np.ndarray) -> RankingSums:
    """Scores one shard's top-k lists against its truth; sums add across shards."""
    return sum_user_terms(
        per_user_ranking_terms(top_k, truth_user_ids, truth_item_ids))


def combine_ranking_sums(sums: Iterable[RankingSums]) -> RankingSums:
    """Adds the sums of several shards (at least one); any sums with `+`
    (the TopKEvaluator's Beam job combines its BeyondAccuracySums, too)."""
    return functools.reduce(lambda left, right: left + right, sums)


def finalize_ranking_metrics(sums: RankingSums) -> Dict[str, float]:
    """Turns combined sums into precision@k, recall@k, ndcg@k, map, map@k.

    Keys are literally "precision@k" etc.; every metric is 0.0 when no user
    is common to truth and predictions.
    """
    n = sums.num_users
    totals = (sums.precision, sums.recall, sums.ndcg, sums.average_precision,
              sums.average_precision_at_k)
    metrics = {name: (total / n if n else 0.0)
               for name, total in zip(RANKING_METRIC_NAMES, totals)}
    metrics["num_users"] = n
    return metrics


def confidence_intervals(sums: RankingSums, population: int,
                         z: float = 1.96) -> Dict[str, Tuple[float, float]]:
    """(low, high) of each metric of finalize_ranking_metrics when its
    sums.num_users users are a simple random sample (without replacement)
    of `population` users: the normal interval of a mean, with the finite
    population correction, so it is (mean, mean) when the sample is every
    user. z = 1.96: 95 %."""
    n = sums.num_users
    if population < n:
        raise ValueError(f"a sample of {n} users cannot come from "
                         f"{population}")
    means = finalize_ranking_metrics(sums)
    intervals = {}
    for name, square_sum in zip(RANKING_METRIC_NAMES, sums.squares):
        mean = means[name]
        if n < 2:
            intervals[name] = (mean, mean) if n == population else (0.0, 1.0)
            continue
        variance = max(square_sum / n - mean * mean, 0.0) * n / (n - 1)
        correction = (population - n) / max(population - 1, 1)
        half = z * float(np.sqrt(variance / n * correction))
        intervals[name] = (max(mean - half, 0.0), min(mean + half, 1.0))
    return intervals


def ranking_metrics(truth_df: pd.DataFrame, predictions_df: pd.DataFrame,
                    k: int, col_prediction: str = DEFAULT_PREDICTION_COL
                    ) -> Dict[str, float]:
    """Top-k metrics of score column `col_prediction` against all truth rows."""
    top_k = top_k_per_user(predictions_df[USER_KEY].to_numpy(),
                           predictions_df[ITEM_KEY].to_numpy(),
                           predictions_df[col_prediction].to_numpy(), k)
    sums = ranking_partial_sums(top_k, truth_df[USER_KEY].to_numpy(),
                                truth_df[ITEM_KEY].to_numpy())
    return finalize_ranking_metrics(sums)


# -------------------------------------------------------- rating metrics


def rating_metrics(truth_df: pd.DataFrame, predictions_df: pd.DataFrame,
                   col_prediction: str = DEFAULT_PREDICTION_COL
                   ) -> Dict[str, float]:
    """rmse, mae, rsquared, exp_var over the (user, item) inner join."""
    truth = truth_df[[USER_KEY, ITEM_KEY, LABEL_KEY]]
    # A private name keeps the join clear of a prediction column that is
    # itself called LABEL_KEY.
    predictions = predictions_df[[USER_KEY, ITEM_KEY, col_prediction]].rename(
        columns={col_prediction: "_prediction"})
    joined = truth.merge(predictions, on=[USER_KEY, ITEM_KEY], how="inner")
    return rating_metrics_from_arrays(joined[LABEL_KEY].to_numpy(),
                                      joined["_prediction"].to_numpy())


def rating_metrics_from_arrays(y_true: np.ndarray, y_pred: np.ndarray
                               ) -> Dict[str, float]:
    """rmse, mae, rsquared, exp_var of aligned ratings (sklearn semantics)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.size == 0:
        raise ValueError("no (user, item) pair is in both truth and predictions")
    error = y_true - y_pred
    mse = float(np.mean(error ** 2))
    true_var = float(np.var(y_true))
    return {
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(error))),
        # sklearn's r2_score is undefined (NaN) for a single sample.
        "rsquared": (_one_minus_ratio(mse, true_var) if y_true.size > 1
                     else float("nan")),
        "exp_var": _one_minus_ratio(float(np.var(error)), true_var),
    }


def _one_minus_ratio(numerator: float, denominator: float) -> float:
    # sklearn's force_finite rule for constant truth: 1 if perfect, else 0.
    if numerator == 0.0:
        return 1.0
    if denominator == 0.0:
        return 0.0
    return 1.0 - numerator / denominator
