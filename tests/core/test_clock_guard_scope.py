"""The clock guard stops where the ``pages`` marker does: a test without it, collected right
after the guarded tests/core/test_clock.py, runs on the real clock (tests/conftest.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from kafkaops.core import clock
from tests.conftest import RUN_HAS_OWN_NOW


def test_a_test_without_the_pages_marker_runs_on_the_real_clock() -> None:
    if RUN_HAS_OWN_NOW:
        pytest.skip("the whole run was started with a KAFKAOPS_NOW of its own")
    assert clock.ENV_VAR not in os.environ
    assert not clock.is_shifted()
    assert abs(clock.utc_now() - datetime.now(UTC)) < timedelta(seconds=1)
