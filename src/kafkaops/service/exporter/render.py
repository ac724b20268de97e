"""The Prometheus text exposition format (0.0.4), written straight from values.

Kept apart from the catalogue (which families exist) because it is the hot loop of a big
cluster's render and is tuned on its own (see :class:`Family`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence


@functools.lru_cache(maxsize=1 << 16)
def escape(value: str) -> str:
    """Label value escaping of the text format (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Family:
    """One gauge family written straight to exposition lines.

    Why not ``GaugeMetricFamily``: it builds a ``Sample`` (with a label dict) per value and
    ``generate_latest`` formats each again; for the ~100,000 samples of a 10,000-partition
    cluster with its consumer groups that took ~1.4 s per cycle, this takes a fraction of it.
    The output is checked with prometheus_client's own parser in the tests.
    """

    __slots__ = ("head", "label_names", "lines", "name", "template")

    def __init__(self, name: str, doc: str, labels: Iterable[str]) -> None:
        self.name = name
        self.head = f"# HELP {name} {doc}\n# TYPE {name} gauge\n"
        names = self.label_names = tuple(labels)
        inner = ",".join(f'{k}="%s"' for k in names)
        self.template = f"{name}{{{inner}}} %s" if names else f"{name} %s"
        self.lines: list[str] = []

    def add(self, values: Sequence[str], value: float) -> None:
        labels = tuple(escape(v) for v in values)
        self.lines.append(self.template % (*labels, number(value)))

    def add_labelled(self, labels: str, value: float) -> None:
        """One sample whose label set was formatted once (:func:`label_head`) for several
        families: a 20,000-partition cluster writes seven per-partition families, and
        escaping and formatting the same three labels seven times was half of the render."""
        self.lines.append(f"{self.name}{labels} {number(value)}")

    def text(self) -> str:
        return self.head + "".join(line + "\n" for line in self.lines)


def label_head(names: Sequence[str], values: Sequence[str]) -> str:
    """``{a="x",b="y",last="`` for ``names`` and the first ``len(names) - 1`` ``values``:
    complete it with the last value (which must need no escaping, e.g. a partition number)
    and ``"}``.  Shared by every family with these label names."""
    done = ",".join(f'{k}="{escape(v)}"' for k, v in zip(names[:-1], values, strict=True))
    return f'{{{done},{names[-1]}="' if done else f'{{{names[-1]}="'


def number(value: float) -> str:
    if type(value) is int:
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return repr(float(value))
