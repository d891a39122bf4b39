"""Metric sources: one small class per source behind the MetricSource protocol."""
