"""The SLF4J binding follows the slf4j-api jar Maven resolved, not the Kafka version: Kafka 4.1
resolves slf4j-api 1.7.36, which ignores an SLF4J-2 provider and logs nothing (NOP)."""

from __future__ import annotations

import stat
from pathlib import Path

from kafkaops.sandbox import jars


def _libs(tmp_path: Path, *names: str) -> Path:
    libs = tmp_path / "libs"
    libs.mkdir(parents=True)
    for name in names:
        (libs / name).write_bytes(b"")
    return libs


def test_binding_by_slf4j_api_version() -> None:
    assert jars.slf4j_binding_for("1.7.36") == "log4j-slf4j-impl"
    assert jars.slf4j_binding_for("2.0.17") == "log4j-slf4j2-impl"


def test_a_wrong_binding_is_replaced(tmp_path: Path) -> None:
    """The cache resolved before this fix: slf4j-api 1.7 beside the SLF4J-2 provider.  The
    right binding is fetched (a stand-in ``mvn`` that records its arguments), then the wrong
    one removed."""
    libs = _libs(tmp_path, "slf4j-api-1.7.36.jar", f"log4j-slf4j2-impl-{jars.LOG4J2_VERSION}.jar")
    args = tmp_path / "mvn-args"
    mvn = tmp_path / "mvn"
    mvn.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {args}\n'
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#*=}";; esac; done\n'
        f'touch "$out/log4j-slf4j-impl-{jars.LOG4J2_VERSION}.jar"\n'
    )
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    jar = jars.ensure_slf4j_binding(libs, mvn=str(mvn))
    assert jar == libs / f"log4j-slf4j-impl-{jars.LOG4J2_VERSION}.jar"
    assert sorted(p.name for p in libs.glob("*.jar")) == [jar.name, "slf4j-api-1.7.36.jar"]
    assert f"org.apache.logging.log4j:log4j-slf4j-impl:{jars.LOG4J2_VERSION}" in args.read_text()


def test_a_right_binding_needs_no_maven(tmp_path: Path) -> None:
    libs = _libs(tmp_path, "slf4j-api-2.0.17.jar", f"log4j-slf4j2-impl-{jars.LOG4J2_VERSION}.jar")
    jar = jars.ensure_slf4j_binding(libs, mvn="/nonexistent/mvn")
    assert jar is not None and jar.exists()
    assert jars.ensure_slf4j_binding(_libs(tmp_path / "x", "kafka-clients.jar")) is None
