"""Stops the pipeline when ExampleValidator found anomalies in the data."""
