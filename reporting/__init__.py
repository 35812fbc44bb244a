"""Looking at a pipeline run: the HTML report and the recommend command."""
