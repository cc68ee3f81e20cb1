"""Evaluation helpers: the base-to-novel score, run metrics, seed statistics, published numbers."""
from .harmonic_mean import harmonic_mean
from .run_metrics import CollectedRuns, RunMetrics, collect_runs, finished_test_metrics
from .seed_statistics import SeedStatistics

__all__ = [
    'harmonic_mean', 'RunMetrics', 'CollectedRuns', 'collect_runs', 'finished_test_metrics',
    'SeedStatistics'
]
