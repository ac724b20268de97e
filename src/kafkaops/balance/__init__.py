"""Partition balance: diagnose (pure), plan (pure, deterministic), apply (throttled), audit.

The runbook's "Partition Imbalance" section as code.  :mod:`layout` is the one input every
step reads (brokers with racks, partitions with replicas, leader and size); :mod:`diagnosis`
measures skew against tolerance bands; :mod:`planner` proposes the fewest-bytes reassignment;
:mod:`plan_file` reads and checks plans in ``kafka-reassign-partitions`` format;
:mod:`executor` applies them under a replication throttle that is always removed.
"""
