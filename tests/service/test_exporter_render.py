"""The render's shared-label fast path writes exactly what the per-sample path writes.

``label_head`` + ``Family.add_labelled`` format a partition's labels once for the seven
per-partition families; hypothesis drives label values with every character the text format
escapes (backslash, double quote, newline) and checks the lines byte for byte against
``Family.add`` and against prometheus_client's own parser.
"""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from kafkaops.service.exporter.render import Family, label_head

names = st.text(alphabet=st.sampled_from('ab.-_"\\\n é'), min_size=1, max_size=12)
values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


#: 300 examples in CI (a few seconds); ``KAFKAOPS_THOROUGH=1`` runs 100 times more (20,000
#: examples found the parser keeping integers exact, which the first version compared as floats).
EXAMPLES = 30_000 if os.environ.get("KAFKAOPS_THOROUGH") == "1" else 300


@settings(deadline=None, max_examples=EXAMPLES)  # timing is not the point on a busy machine
@given(cluster=names, topic=names, partition=st.integers(0, 10_000), value=values)
def test_add_labelled_equals_add(cluster: str, topic: str, partition: int, value: float) -> None:
    labels = ("cluster", "topic", "partition")
    slow, fast = Family("m", "help", labels), Family("m", "help", labels)
    slow.add([cluster, topic, str(partition)], value)
    fast.add_labelled(f'{label_head(labels, (cluster, topic))}{partition}"}}', value)
    assert fast.text() == slow.text()
    [family] = text_string_to_metric_families(fast.text())
    [sample] = family.samples
    assert sample.labels == {"cluster": cluster, "topic": topic, "partition": str(partition)}
    assert sample.value == value  # the parser keeps integers exact: compare as written


def test_label_head_of_a_single_label() -> None:
    assert label_head(("partition",), ()) == '{partition="'
