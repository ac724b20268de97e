"""Fixtures shared by the pipeline's store-backed tests (sharing, fencing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kafkaops.store import db


@pytest.fixture
def engine(store_url: str) -> Iterator[object]:
    """A store engine on the test's database (SQLite or PostgreSQL, per ``store_url``)."""
    eng = db.acquire(store_url)
    try:
        yield eng
    finally:
        db.release(eng)
