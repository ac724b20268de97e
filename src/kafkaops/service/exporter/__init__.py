"""``/metrics``: the watch loop's facts in the Prometheus exposition format.

A package because the page has four concerns that change for different reasons:
:mod:`.catalogue` (which metrics exist, names and labels), :mod:`.render` (the text format),
:mod:`.cache` (render once per cycle, serve bytes, gzip once) and :mod:`.route` (the endpoint).

Names follow kafka_exporter where one exists (``kafka_brokers``, ``kafka_topic_partitions``,
``kafka_topic_partition_current_offset``, ``kafka_consumergroup_lag``,
``kafka_consumergroup_lag_sum``, ``kafka_consumergroup_members``), so existing dashboards and
alerts keep working; everything kafkaops adds is ``kafkaops_*``.  Every series carries a
``cluster`` label.  The full list is in ``docs/metrics.md``.

Why custom collectors over the watcher's snapshots instead of global ``Gauge`` objects: a gauge
set per partition keeps series of deleted topics and groups forever, and updating 10,000
children every cycle costs more than rendering them.  Why pre-rendered: the snapshot families
change once per cycle but are scraped by every Prometheus replica and dashboard; they are
rendered once per cycle (in the loop's thread, right after the cycle) and served as bytes, so a
scrape of a 10,000-partition cluster costs a byte copy plus the few live families (incidents,
loop counters).
"""
