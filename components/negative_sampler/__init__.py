"""Custom TFX component that adds sampled negatives to implicit feedback."""
