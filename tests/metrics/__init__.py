"""Broker-metrics sources (Prometheus, CloudWatch, MSK) tested without a Kafka cluster."""
