"""divco's search service: the CLI, the Optuna study, workers and export."""
