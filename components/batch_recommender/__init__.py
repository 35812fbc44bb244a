"""Custom TFX component that publishes every user's top-k recommendations."""
