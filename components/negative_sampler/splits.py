"""The NegativeSampler's split names (no TensorFlow or Beam import: cheap
for whoever reads the sampler's output).

The sampler reads the raw train and eval splits (the catalog and each
user's rated items come from train) and writes the eval split alone: each
eval rating with its sampled negatives. The ranking Trainer draws its own
training negatives (trainer_module/negatives.py).
"""
TRAIN = "train"
EVAL = "eval"
# The input splits the sampler reads; it writes EVAL alone.
SPLITS = (TRAIN, EVAL)
