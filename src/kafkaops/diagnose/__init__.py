"""Diagnosis beyond lag: producers (request latency by component), the end-to-end canary."""
