"""Disaster recovery: MirrorMaker 2 / MSK Replicator verification, failover and drills.

``collect`` gathers facts from the primary and the replica (topics, offsets, MM2's internal
topics decoded by ``codec``); ``verify`` judges those facts, purely, against the RPO/RTO
targets; ``policy`` knows how each replication policy names remote topics.
"""
