"""Which primary and replica a DR command works on: the ``dr:`` section of a config, or, with
no config, the sandbox pair (``sandbox up``, ``sandbox up --name dr``, ``sandbox mirror up``),
as the sandbox cluster is the default for ``health``.

Bad input — an unknown cluster, a sandbox that is not there, a policy that disagrees with the
running mirror — raises :class:`ConfigError` with one line saying which and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafkaops.dr.policy import PolicyName, ReplicationPolicy
from kafkaops.dr.settings import DrSettings
from kafkaops.dr.verify import DrTargets
from kafkaops.errors import ConfigError

#: Client timeouts for the sandbox pair: a dead primary is "unreachable" within seconds.
_SANDBOX_TIMEOUTS = {"request_timeout_ms": 10_000, "bootstrap_timeout_ms": 4_000}


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


def resolve_pair(
    config_path: Path | None,
    *,
    source: str = "default",
    target: str = "dr",
    policy: PolicyName | None = None,
    base_dir: Path | None = None,
    reverse: bool = False,
) -> DrPair:
    """``reverse``: the configured replica as the primary (failback, with a reverse mirror)."""
    if config_path is not None:
        from kafkaops.config import load_config

        cfg = load_config(config_path)
        s = cfg.dr
        if policy is not None:
            s = s.model_copy(update={"replication_policy": policy})
        for fld in ("primary", "replica"):
            name = getattr(s, fld)
            if not name:
                raise ConfigError(f"{config_path}: dr.{fld} is not set (a cluster name)")
            if name not in cfg.clusters:
                known = ", ".join(sorted(cfg.clusters)) or "none"
                raise ConfigError(
                    f"{config_path}: dr.{fld}: unknown cluster {name!r} (clusters: {known})"
                )
        assert s.primary and s.replica
        if reverse:
            s = s.model_copy(
                update={
                    "primary": s.replica,
                    "replica": s.primary,
                    "source_alias": s.target_alias,
                    "target_alias": s.source_alias,
                }
            )
        primary, replica = str(s.primary), str(s.replica)
        p, r = cfg.clusters[primary], cfg.clusters[replica]
        return DrPair(
            primary,
            p.kafka_client_kwargs(),
            replica,
            r.kafka_client_kwargs(),
            ReplicationPolicy(s.replication_policy, s.source_alias or primary),
            s.target_alias or replica,
            s,
        )
    from kafkaops.errors import SandboxError
    from kafkaops.sandbox.mirror import Mirror

    try:
        mirror = Mirror(source, target, base_dir=base_dir)
    except SandboxError as exc:
        raise ConfigError(str(exc)) from None
    for name, box in ((source, mirror.source), (target, mirror.target)):
        if not box.exists:
            hint = "" if name == "default" else f" --name {name}"
            raise ConfigError(
                f"unknown cluster {name!r}: no sandbox at {box.root} "
                f"(start it with 'kafkaops sandbox up{hint}', or pass --config)"
            )
    running_policy = mirror.state().get("policy")
    if policy and running_policy and policy != running_policy:
        raise ConfigError(
            f"policy mismatch: --policy {policy} but the sandbox mirror {source}->{target} "
            f"runs the {running_policy!r} replication policy"
        )
    chosen: PolicyName = policy or running_policy or "default"
    settings = DrSettings(primary=source, replica=target, replication_policy=chosen)
    return DrPair(
        source,
        {"bootstrap_servers": mirror.source.bootstrap().split(","), **_SANDBOX_TIMEOUTS},
        target,
        {"bootstrap_servers": mirror.target.bootstrap().split(","), **_SANDBOX_TIMEOUTS},
        ReplicationPolicy(chosen, source),
        target,
        settings,
        mirror=mirror,
    )
