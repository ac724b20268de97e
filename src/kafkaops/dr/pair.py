"""Which primary and replica a DR command works on: the ``dr:`` section of a config, or, with
no config, the sandbox pair (``sandbox up``, ``sandbox up --name dr``, ``sandbox mirror up``),
as the sandbox cluster is the default for ``health``.

Bad input — an unknown cluster, a sandbox that is not there, a policy that disagrees with the
running mirror — raises :class:`ConfigError` with one line saying which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafkaops.dr.policy import ReplicationPolicy
from kafkaops.dr.settings import DrSettings
from kafkaops.dr.verify import DrTargets

#: Client timeouts for the sandbox pair: a dead primary is "unreachable" within seconds.
SANDBOX_TIMEOUTS = {"request_timeout_ms": 10_000, "bootstrap_timeout_ms": 4_000}


@dataclass
class DrPair:
    primary: str
    primary_kwargs: dict[str, Any]
    replica: str
    replica_kwargs: dict[str, Any]
    policy: ReplicationPolicy
    target_alias: str
    settings: DrSettings
    #: The sandbox mirror (``kafkaops.sandbox.mirror.Mirror``) when the pair is the sandbox.
    mirror: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> DrTargets:
        s = self.settings
        return DrTargets(rpo_ms=s.rpo, rto_ms=s.rto, heartbeat_max_age_ms=s.heartbeat_max_age)

    def replicator_state(self) -> dict[str, object]:
        """The MM2 process's state (sandbox); MSK Replicator's comes from ``msk.py``."""
        if self.mirror is None:
            return {}
        running = self.mirror.running()
        return {
            "name": f"mm2 {self.policy.source_alias}->{self.target_alias}",
            "kind": "mirrormaker2",
            "state": "RUNNING" if running else "STOPPED",
            "pid": self.mirror.state().get("pid") if running else None,
        }
