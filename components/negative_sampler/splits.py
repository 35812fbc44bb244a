"""The NegativeSampler's output split names (no TensorFlow or Beam import:
the pipeline definition wires Transform and Trainer with them).

The sampled train examples are one split per round: each round has every
train rating once with fresh negatives, and the Trainer reads the rounds one
after the other, like epochs. Mixed into one split, every positive's copies
would land anywhere in the pass, which ranked worse on the validation
hold-out of the train split (ndcg@10 0.2036 against 0.2086, median of two
seeds; benchmarks/results/ranking_validation.json).
"""
from typing import List

TRAIN = "train"
EVAL = "eval"
# The input splits the sampler reads.
SPLITS = (TRAIN, EVAL)


def train_round_splits(rounds: int) -> List[str]:
    """The sampled train split of each round, in training order (none for
    0 rounds: the eval split alone, as the pipeline asks since the Trainer
    samples its own negatives)."""
    if rounds < 0:
        raise ValueError(f"rounds must be at least 0, got {rounds}")
    return [f"{TRAIN}_round_{index}" for index in range(1, rounds + 1)]


def output_splits(rounds: int) -> List[str]:
    """Every split of the sampler's output: the rounds, then eval."""
    return [*train_round_splits(rounds), EVAL]
