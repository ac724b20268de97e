"""Schemathesis against the running service's ``/openapi.json``: valid and invalid input, no 5xx.

Bounded on purpose (a few examples per operation and mode, no shrinking): it looks for crashes
on odd input — unicode, huge numbers, missing parameters, wrong types — not for coverage.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.service.conftest import Service

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EXAMPLES = 8
BUDGET_S = 60


def test_openapi_operations_never_answer_5xx(service: Service) -> None:
    schema = schemathesis.openapi.from_url(service.url + "openapi.json")
    base = service.url.rstrip("/")
    failures: list[str] = []
    started = time.monotonic()
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                response = case.call(base_url=base, headers=service.auth(), timeout=15)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {response.request.url} → {response.status_code} "
                        f"{response.text[:200]}"
                    )
                elif response.status_code >= 400:
                    assert set(response.json()) == {"error"}, response.text

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
                assert mode == GenerationMode.NEGATIVE
    elapsed = time.monotonic() - started
    assert not failures, "\n".join(failures[:20])
    assert elapsed < BUDGET_S, f"fuzzing took {elapsed:.0f}s"
