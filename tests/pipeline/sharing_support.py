"""What the two multi-instance tests share: a private PostgreSQL database per test and the
``watch.sharing: per_cluster`` config they run their instances with (paging to one webhook,
no maintenance windows)."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import create_engine, text


def fresh_database(postgres_url: str) -> str:
    """A new, empty database on the test PostgreSQL server; its URL."""
    name = f"sharing_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin_engine.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def write_sharing_config(
    path: Path,
    bootstraps: dict[str, str],
    store: str,
    hook: str,
    *,
    interval_s: int,
    timeouts: tuple[str, str],
    watch_extra: str = "",
    incidents_extra: str = "",
) -> Path:
    """The instances' one config file: every cluster, the shared store, ``per_cluster``."""
    request, connect = timeouts
    clusters = "".join(
        f"  {name}:\n    bootstrap: {bootstrap}\n"
        f"    timeouts:\n      request: {request}\n      connect: {connect}\n"
        for name, bootstrap in bootstraps.items()
    )
    path.write_text(
        f"""
clusters:
{clusters}
store:
  url: {store}
watch:
  interval: {interval_s}s
{watch_extra}  sharing: per_cluster
channels:
  timeout: 5s
  webhooks:
    ops: {{url: "{hook}"}}
incidents:
  maintenance:
    windows: []
  routing:
    p0: [webhook:ops]
    p1: [webhook:ops]
    p2: [webhook:ops]
{incidents_extra}"""
    )
    return path
