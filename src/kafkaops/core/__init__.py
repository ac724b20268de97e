"""Layer 1: the shared types and helpers every other package builds on (no kafkaops imports)."""
