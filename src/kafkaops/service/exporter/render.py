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

    __slots__ = ("chunks", "head", "label_names", "lines", "name", "template")

    #: Lines joined into one string at a time: ~25 KB, off Python's small-object arenas.
    #: Holding a 20,000-partition page as 276,000 line objects peaked ~50 MB per render and
    #: left those arenas fragmented between cycles (bench/README.md, session 9).
    SEAL_EVERY = 256

    def __init__(self, name: str, doc: str, labels: Iterable[str]) -> None:
        self.name = name
        self.head = f"# HELP {name} {doc}\n# TYPE {name} gauge\n"
        names = self.label_names = tuple(labels)
        inner = ",".join(f'{k}="%s"' for k in names)
        self.template = f"{name}{{{inner}}} %s" if names else f"{name} %s"
        self.lines: list[str] = []
        self.chunks: list[str] = []

    def add(self, values: Sequence[str], value: float) -> None:
        labels = tuple(escape(v) for v in values)
        lines = self.lines
        lines.append(self.template % (*labels, number(value)) + "\n")
        if len(lines) >= self.SEAL_EVERY:
            self._seal()

    def add_labelled(self, labels: str, value: float) -> None:
        """One sample whose label set was formatted once (:func:`label_head`) for several
        families: a 20,000-partition cluster writes seven per-partition families, and
        escaping and formatting the same three labels seven times was half of the render."""
        lines = self.lines
        lines.append(f"{self.name}{labels} {number(value)}\n")
        if len(lines) >= self.SEAL_EVERY:
            self._seal()

    def _seal(self) -> None:
        self.chunks.append("".join(self.lines))
        self.lines.clear()

    def text(self) -> str:
        return self.head + "".join(self.chunks) + "".join(self.lines)

    def clear(self) -> None:
        """Drop the samples (once the family is written out)."""
        self.lines, self.chunks = [], []


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
