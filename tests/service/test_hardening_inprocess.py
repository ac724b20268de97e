"""Issue 10 item 10, in process: group ids with "/", HEAD, the Host allow-list, ``since`` bounds,
/docs served locally under the CSP.  The state is the in-process tests' synthetic cluster."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from kafkaops.service.app import create_app
from kafkaops.service.state import ServiceState
from kafkaops.service.ui import CSP, STATIC_DIR
from tests.service.test_inprocess import make_state

LOCAL = "http://127.0.0.1"


def _state_with_slash_group(tmp_path: Path) -> ServiceState:
    state = make_state(tmp_path, token=None)
    cs = state.watcher.states["big"]
    snap = cs.last_snapshot
    assert snap is not None
    first = replace(snap.groups[0], group_id="team/app")
    cs.last_snapshot = replace(snap, groups=(first, *snap.groups[1:]))
    return state


def test_group_ids_with_a_slash_are_found(tmp_path: Path) -> None:
    client = TestClient(create_app(_state_with_slash_group(tmp_path)), base_url=LOCAL)
    for path in ("/api/clusters/big/groups/team/app", "/api/clusters/big/groups/team%2Fapp"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["summary"]["group_id"] == "team/app"
    r = client.get("/api/clusters/big/groups/team/none")
    assert r.status_code == 404 and "'team/none'" in r.json()["error"]


def test_head_is_answered_on_get_routes(tmp_path: Path) -> None:
    client = TestClient(create_app(make_state(tmp_path, token=None)), base_url=LOCAL)
    for path in ("/health", "/api/clusters", "/metrics"):
        r = client.head(path)
        assert r.status_code == 200, (path, r.status_code)
        assert r.content == b""
    assert client.head("/api/incidents/x/ack").status_code == 405


def test_host_header_allow_list(tmp_path: Path) -> None:
    state = make_state(tmp_path, token=None)
    app = create_app(state, bind="127.0.0.1")
    for base in (LOCAL, "http://localhost:8080", "http://[::1]:8080", "http://10.1.2.3"):
        assert TestClient(app, base_url=base).get("/health").status_code == 200, base
    for base in ("http://evil.example", "http://127.0.0.1.evil.example:8080"):
        r = TestClient(app, base_url=base).get("/api/clusters")
        assert r.status_code == 403, base
        assert "service.allowed_hosts" in r.json()["error"]
    # Configured names (and sub-domain wildcards) are accepted.
    config = state.config.model_copy(
        update={
            "service": state.config.service.model_copy(
                update={"allowed_hosts": ["kafkaops.internal", "*.ops.example"]}
            )
        }
    )
    state.config = config
    app = create_app(state)
    for base in ("http://kafkaops.internal:8080", "http://a.ops.example"):
        assert TestClient(app, base_url=base).get("/health").status_code == 200, base
    assert TestClient(app, base_url="http://ops.example.evil").get("/health").status_code == 403


def test_since_as_an_iso_time_has_the_same_366_day_cap(tmp_path: Path) -> None:
    client = TestClient(create_app(make_state(tmp_path, token=None)), base_url=LOCAL)
    base = "/api/clusters/big/history/lag?group=group-0000&since="
    for since in ("0001-01-01", "2000-01-01T00:00:00Z"):
        r = client.get(base + since)
        assert r.status_code == 422 and "366 days" in r.json()["error"], (since, r.text)
    assert client.get(base + "1h").status_code == 200


def test_docs_are_served_locally_under_the_csp(tmp_path: Path) -> None:
    client = TestClient(create_app(make_state(tmp_path, token=None)), base_url=LOCAL)
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert len(refs) == 3 and "<script>" not in r.text  # no inline script: CSP forbids it
    for ref in refs:
        assert ref.startswith("/static/"), ref
        asset = client.get(ref)
        assert asset.status_code == 200 and len(asset.content) > 100, ref
    assert "cdn" not in r.text.lower()
    assert (STATIC_DIR / "vendor" / "swagger-ui" / "LICENSE").is_file()
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN page is off
    assert client.get("/openapi.json").status_code == 200
