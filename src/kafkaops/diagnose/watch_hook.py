"""The canary part of a watch cycle (only when ``diagnose.canary.enabled``).

One :class:`Canary` per cluster is kept between cycles (its producers and consumer stay
connected: a reconnect every cycle would measure the handshake, not the broker).  A canary that
cannot run at all (the cluster is unreachable: the health cycle already says so) yields no
findings; it must never stop the health cycle that pages for an outage.  Each round takes at
most about three ``timeout`` s (metadata, produce, delivery) — keep it below the watch interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from kafkaops.core.model import Finding
from kafkaops.diagnose.canary import Canary
from kafkaops.diagnose.settings import CanarySettings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_canaries: dict[tuple[str, str, CanarySettings], Canary] = {}


def canary_cycle(
    cluster: str, client_kwargs: Mapping[str, Any], settings: CanarySettings
) -> tuple[Finding, ...] | None:
    """One canary round for ``cluster``: its P1/P2 findings (empty: every write went through).

    None when no round ran (disabled, or the canary could not run at all): the SLO then falls
    back to the metadata signals instead of taking "no findings" for "available".
    """
    if not settings.enabled:
        return None
    key = (cluster, repr(sorted(client_kwargs.items(), key=lambda kv: kv[0])), settings)
    with _lock:
        canary = _canaries.get(key)
        if canary is None:
            canary = _canaries[key] = Canary(cluster, client_kwargs, settings, create=True)
    try:
        return canary.run().findings
    except Exception as exc:  # a canary failure must not fail the health cycle
        log.warning("canary of cluster %s could not run: %s", cluster, exc)
        with _lock:
            _canaries.pop(key, None)
        canary.close()
        return None
