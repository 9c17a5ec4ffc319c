"""Evaluation: the harness (metrics and controls), statistics, predictions, scoring, compare."""
