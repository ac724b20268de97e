"""glibc malloc tuning of the long-running commands (``serve``, ``watch``)."""

from __future__ import annotations

import pytest


def test_malloc_tuning_applies_on_glibc_and_yields_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ctypes

    from kafkaops.core import memory

    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

        def malloc_trim(self, pad: int) -> int:
            calls.append((0, pad))
            return 1

    monkeypatch.setattr(memory, "_libc", lambda: FakeLibc())
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.tune_malloc()
    assert (memory.M_ARENA_MAX, 2) not in calls  # the operator's variable wins
    assert (memory.M_MMAP_THRESHOLD, 256 * 1024) in calls
    memory.release_free_memory()
    assert calls[-1] == (0, 0)
    monkeypatch.setattr(memory, "_libc", lambda: None)  # musl, macOS: nothing to do
    assert not memory.tune_malloc()
    assert isinstance(ctypes.CDLL, type)
