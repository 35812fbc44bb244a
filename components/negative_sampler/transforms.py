"""The Beam graph of the NegativeSampler.

  read both splits -> parse -> key by user -> CoGroupByKey(train, eval)
    -> per user, with the catalog (train items and their genres) as a side
       input: the eval examples (negatives exclude the user's train and
       eval items)
    -> serialize -> spread over random buckets (GroupByKey)
    -> WriteToTFRecord: the eval split

Nothing is collected in one process but the catalog. The per-user work is
sampling.py's; its output depends only on the data and the seed.
"""
import os
from typing import Dict, Iterable, Iterator, Tuple

import apache_beam as beam
from absl import logging
from apache_beam.metrics import Metrics, MetricsFilter

from components.negative_sampler import sampling
from components.negative_sampler.splits import EVAL, SPLITS, TRAIN
from recommender import catalog as catalog_lib

# ExampleGen's file names: Split-<name>/data_tfrecord-*-of-*.gz.
FILE_PREFIX = "data_tfrecord"
FILE_SUFFIX = ".gz"
# Output examples are spread over this many random buckets before they are
# written: a user's examples would otherwise be contiguous in the files, far
# longer than a reader's shuffle buffer for a heavy user.
MIX_BUCKETS = 256

COUNTER_NAMESPACE = "NegativeSampler"
# Counter names: "eval_positives", "eval_negatives",
# "eval_users_without_negatives".
COUNTERS = tuple(f"{EVAL}_{what}" for what in (
    "positives", "negatives", "users_without_negatives"))


class SampleUser(beam.DoFn):
    """(user_id, {"train": ratings, "eval": ratings}) -> (bucket, serialized
    example) of the user's eval examples, given the catalog as a side
    input."""

    def __init__(self, negatives_per_positive: int, seed: int):
        self._ratio = negatives_per_positive
        self._seed = seed
        self._positives = Metrics.counter(COUNTER_NAMESPACE,
                                          f"{EVAL}_positives")
        self._negatives = Metrics.counter(COUNTER_NAMESPACE,
                                          f"{EVAL}_negatives")
        self._starved = Metrics.counter(COUNTER_NAMESPACE,
                                        f"{EVAL}_users_without_negatives")

    def process(self, element: Tuple[int, Dict[str, Iterable]],
                catalog: catalog_lib.Catalog
                ) -> Iterator[Tuple[int, bytes]]:
        user_id, ratings = element
        sampled = sampling.eval_rows(user_id, ratings[TRAIN], ratings[EVAL],
                                     catalog, self._ratio, self._seed)
        if sampled is None:
            return
        rows, rng = sampled
        negatives = rows.num_negatives
        self._positives.inc(len(rows) - negatives)
        self._negatives.inc(negatives)
        if negatives == 0 and self._ratio > 0:
            self._starved.inc()
            logging.warning(
                "NegativeSampler: no item left to sample for user %d in the "
                "%s split (they rated all %d catalog items); their %s "
                "examples have no negatives", user_id, EVAL,
                catalog.item_ids.size, EVAL)
        # Drawn after the sampling: mixing never changes the content.
        buckets = rng.integers(0, MIX_BUCKETS, size=len(rows))
        yield from zip(buckets.tolist(), sampling.serialize_rows(rows))


def _flatten_bucket(bucket: Tuple[int, Iterable[bytes]]) -> Iterable[bytes]:
    return bucket[1]


@beam.ptransform_fn
def _ReadRatings(pipeline, pattern: str):  # pylint: disable=invalid-name
    return (pipeline
            | "Read" >> beam.io.ReadFromTFRecord(
                pattern, coder=beam.coders.BytesCoder())
            | "Parse" >> beam.Map(sampling.parse_rating))


@beam.ptransform_fn
def _WriteMixed(examples, output_prefix: str):  # pylint: disable=invalid-name
    return (examples
            | "Mix" >> beam.GroupByKey()
            | "Flatten" >> beam.FlatMap(_flatten_bucket)
            | "Write" >> beam.io.WriteToTFRecord(
                output_prefix, file_name_suffix=FILE_SUFFIX))


def sample_examples(pipeline: beam.Pipeline, input_patterns: Dict[str, str],
                    output_dir: str, negatives_per_positive: int, seed: int,
                    user_fraction: float = 1.0) -> None:
    """Adds the sampling to `pipeline`: reads the raw splits at
    input_patterns["train"/"eval"], writes the eval examples to
    <output_dir>/data_tfrecord-*.gz. With user_fraction < 1, only the
    users of sampling.keeps_user's seeded sample get examples; the catalog
    is still every train item."""
    ratings = {split: pipeline | f"ReadRatings[{split}]" >> _ReadRatings(
        input_patterns[split]) for split in SPLITS}
    catalog = beam.pvalue.AsSingleton(
        ratings[TRAIN]
        | "CatalogItems" >> beam.Map(lambda r: (r.item_id, r.genres))
        # A few rows per item reach the list: deduplicate in parallel first.
        | "OneGenresPerItem" >> beam.CombinePerKey(
            catalog_lib.preferred_genres)
        | "CatalogList" >> beam.combiners.ToList()
        | "Catalog" >> beam.Map(catalog_lib.catalog_of_items))
    sampled_users = ratings if user_fraction >= 1.0 else {
        split: ratings[split] | f"SampleUsers[{split}]" >> beam.Filter(
            lambda r: sampling.keeps_user(seed, r.user_id, user_fraction))
        for split in SPLITS}
    per_user = (
        {split: sampled_users[split] | f"ByUser[{split}]" >> beam.Map(
            lambda r: (r.user_id, r)) for split in SPLITS}
        | "GroupByUser" >> beam.CoGroupByKey())
    _ = (per_user
         | f"Sample[{EVAL}]" >> beam.ParDo(
             SampleUser(negatives_per_positive, seed), catalog)
         | f"WriteSplit[{EVAL}]" >> _WriteMixed(
             os.path.join(output_dir, FILE_PREFIX)))


def counter_values(result) -> Dict[str, int]:
    """The counters of a finished pipeline (0 for those it never set)."""
    values = dict.fromkeys(COUNTERS, 0)
    query = result.metrics().query(MetricsFilter().with_namespace(
        COUNTER_NAMESPACE))
    for counter in query["counters"]:
        if counter.key.metric.name in values:
            value = counter.committed
            if value is None:
                value = counter.attempted
            values[counter.key.metric.name] += int(value or 0)
    return values
