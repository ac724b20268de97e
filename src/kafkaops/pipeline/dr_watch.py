"""DR verification inside the watch loop: the pair's findings join the primary's incidents.

Why in the loop and not only in the daily backup check: "RPO above target" must page through the
normal incident flow, and alerts need evidence on consecutive cycles (``for: 10s``) — a daily job
alone would never let a P1 fire.  Verification reads both clusters (seconds), so it runs every
``dr.watch_every`` on the primary's cycle and its last findings are re-used in between: the alert
stays firing (or resolved) between two verifications instead of flapping.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from kafkaops.core.errors import KafkaopsError
from kafkaops.core.model import CheckStatus, Finding, Severity

if TYPE_CHECKING:
    from kafkaops.config import Config

log = logging.getLogger(__name__)

#: A verification that itself fails (the replica unreachable, MM2's topics missing) is a
#: finding too: a DR pair kafkaops cannot verify is not a verified DR pair.
RULE_FAILED = "dr_verification_failed"


class DrWatch:
    """The last DR findings of the configured pair, refreshed every ``dr.watch_every``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_run: float | None = None
        self._findings: tuple[Finding, ...] = ()

    def findings(self, config: Config, cluster: str) -> tuple[Finding, ...]:
        """DR findings to add to ``cluster``'s cycle (only the configured primary gets them)."""
        dr = config.dr
        if not (dr.primary and dr.replica and dr.watch_every) or cluster != dr.primary:
            return ()
        with self._lock:
            due = self._last_run is None or (
                time.monotonic() - self._last_run >= dr.watch_every / 1000
            )
            if due:
                self._last_run = time.monotonic()
                self._findings = _verify(config)
            return self._findings


def _verify(config: Config) -> tuple[Finding, ...]:
    from kafkaops.pipeline.dr_pair import check_pair, pair_from_config

    try:
        _facts, report = check_pair(pair_from_config(config))
    except KafkaopsError as exc:
        return (_failed(str(exc)),)
    except Exception as exc:  # a DR bug must not take the primary's health cycle down
        log.warning("DR verification failed: %s: %s", type(exc).__name__, exc)
        return (_failed(f"{type(exc).__name__}: {exc}"),)
    return (*report.findings, _ok())


def _failed(reason: str) -> Finding:
    return Finding(
        rule=RULE_FAILED, severity=Severity.P1, status=CheckStatus.TRIGGERED,
        title="DR pair could not be verified", value=1, threshold=0, unit="state",
        subject="dr", evidence=(reason[:300],), source="dr",
        response=("kafkaops dr verify --json", "Check MirrorMaker 2 / MSK Replicator and the "
                  "replica cluster"),
    )  # fmt: skip


def _ok() -> Finding:
    return Finding(
        rule=RULE_FAILED, severity=Severity.OK, status=CheckStatus.OK,
        title="DR pair could not be verified", value=0, threshold=0, unit="state",
        subject="dr", source="dr",
    )  # fmt: skip
