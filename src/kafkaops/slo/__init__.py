"""Service levels: availability and freshness SLIs from the per-cycle verdicts the watch loop
records, the monthly error budget, and multi-window multi-burn-rate alerts."""
