"""Custom TFX component that evaluates recommenders with top-k metrics."""
