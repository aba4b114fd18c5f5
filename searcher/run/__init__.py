"""Running a search: the loop, one trial, early stopping, progress, the worker pool, compare series."""
