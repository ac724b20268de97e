"""Which two clusters form the DR pair: from the config's ``dr:`` section, or two sandboxes.

Target resolution reads the config, so it lives in the pipeline layer (the ``dr`` package, below
the config in the layer order, only describes and judges a pair it is given).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kafkaops.core.errors import ConfigError
from kafkaops.dr.facts import DrFacts
from kafkaops.dr.pair import SANDBOX_TIMEOUTS, DrPair
from kafkaops.dr.policy import PolicyName, ReplicationPolicy
from kafkaops.dr.settings import DrSettings
from kafkaops.dr.verify import DrReport

if TYPE_CHECKING:
    from kafkaops.config import Config


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

        return pair_from_config(load_config(config_path), policy=policy, reverse=reverse)
    return _sandbox_pair(source, target, policy, base_dir)


def pair_from_config(
    cfg: Config, *, policy: PolicyName | None = None, reverse: bool = False
) -> DrPair:
    """The pair named by the config's ``dr:`` section (ConfigError naming the field if not)."""
    config_path = cfg.source or "config"
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


def _sandbox_pair(
    source: str, target: str, policy: PolicyName | None, base_dir: Path | None
) -> DrPair:
    from kafkaops.core.errors import SandboxError
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
        {"bootstrap_servers": mirror.source.bootstrap().split(","), **SANDBOX_TIMEOUTS},
        target,
        {"bootstrap_servers": mirror.target.bootstrap().split(","), **SANDBOX_TIMEOUTS},
        ReplicationPolicy(chosen, source),
        target,
        settings,
        mirror=mirror,
    )


def check_pair(pair: DrPair) -> tuple[DrFacts, DrReport]:
    """Collect both clusters' facts and judge them: ``kafkaops dr verify`` and the daily
    backup check (ConfigError when the running replication policy is not the configured one)."""
    from kafkaops.dr.collect import collect_facts
    from kafkaops.dr.msk import replicator_facts
    from kafkaops.dr.verify import policy_mismatch, verify

    replicator = pair.replicator_state()
    if pair.settings.msk_replicator_arn:
        replicator = replicator_facts(pair.settings.msk_replicator_arn)
    facts = collect_facts(
        pair.primary,
        pair.primary_kwargs,
        pair.replica,
        pair.replica_kwargs,
        pair.policy,
        pair.target_alias,
        offset_syncs_on=pair.settings.offset_syncs_location,
        replicator=replicator,
    )
    mismatch = policy_mismatch(facts)
    if mismatch:
        raise ConfigError(mismatch)
    return facts, verify(facts, pair.targets)
