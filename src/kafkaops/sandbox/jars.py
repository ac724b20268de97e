"""Resolve Apache Kafka's jars from Maven Central, once, into a git-ignored cache.

Why Maven and not the release tarball: the machines this runs on reach Maven Central but not
Apache's download mirrors.  ``org.apache.kafka:kafka_2.13`` pulls the broker modules in runtime
scope but no logging binding, so we add log4j2 explicitly (and a properties config, so no YAML
parser is needed); Kafka 3.x's own reload4j binding is excluded so SLF4J has exactly one.

The SLF4J binding must match the ``slf4j-api`` that Maven actually resolved, not the Kafka
version: Kafka 4.1 still resolves slf4j-api 1.7.36, which ignores the SLF4J-2 provider
(``log4j-slf4j2-impl``) and silently falls back to NOP — every broker and MirrorMaker 2 log was
empty.  So the binding is chosen after resolution from the ``slf4j-api-*.jar`` in the folder
(:func:`ensure_slf4j_binding`), which also repairs a cache resolved with the wrong one.
``kafka-tools`` brings the reference CLI (kafka-consumer-groups etc.) that the
tests and benchmarks compare kafkaops against.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kafkaops.core.errors import SandboxError

DEFAULT_KAFKA_VERSION = "4.1.1"
#: What most Amazon MSK clusters run today; the smoke tests also run against it.
LEGACY_KAFKA_VERSION = "3.9.2"
LOG4J2_VERSION = "2.24.3"

_POM_TEMPLATE = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkaops.sandbox</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
      <exclusions>
        <exclusion><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId></exclusion>
      </exclusions></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{version}</version>
      <exclusions>
        <exclusion><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId></exclusion>
      </exclusions></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-1.2-api</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def repo_root() -> Path:
    """The checkout root (where the Makefile lives), or the current directory when installed."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "kafkaops").exists():
            return parent
    return Path.cwd()


def cache_dir() -> Path:
    """Where jars and the Maven repository are cached (``KAFKAOPS_CACHE`` overrides)."""
    return Path(os.environ.get("KAFKAOPS_CACHE", repo_root() / ".cache"))


def slf4j_binding_for(api_version: str) -> str:
    """The log4j2 SLF4J binding artifact that ``slf4j-api`` ``api_version`` loads.

    SLF4J 1.7 looks for ``StaticLoggerBinder`` (``log4j-slf4j-impl``); SLF4J 2 uses a
    ServiceLoader provider (``log4j-slf4j2-impl``).  Each ignores the other's binding and logs
    nothing at all (NOP) — which is what a binding chosen by Kafka version did on Kafka 4.1.
    """
    major = int(api_version.split(".")[0])
    return "log4j-slf4j2-impl" if major >= 2 else "log4j-slf4j-impl"


def slf4j_api_version(libs: Path) -> str | None:
    """The version of the ``slf4j-api`` jar in ``libs`` (None: no SLF4J there)."""
    for jar in sorted(libs.glob("slf4j-api-*.jar")):
        return jar.name.removeprefix("slf4j-api-").removesuffix(".jar")
    return None


def ensure_slf4j_binding(libs: Path, *, mvn: str | None = None) -> Path | None:
    """Make ``libs`` hold exactly the log4j2 binding for its ``slf4j-api``; return that jar.

    Adds the right binding (``mvn dependency:copy``, one jar: log4j-api/core are there already)
    before removing a wrong one, under a file lock, so JVMs started meanwhile from a shared cache
    see at worst both bindings (SLF4J picks its own), never none.
    """
    api = slf4j_api_version(libs)
    if api is None:
        return None
    want = slf4j_binding_for(api)
    jar = libs / f"{want}-{LOG4J2_VERSION}.jar"
    wrong = [j for j in libs.glob("log4j-slf4j*-impl-*.jar") if j.name != jar.name]
    if jar.exists() and not wrong:
        return jar
    with open(libs.parent / ".binding.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not jar.exists():
            mvn = mvn or shutil.which("mvn")
            if mvn is None:
                raise SandboxError("Maven ('mvn') is not installed; run 'make setup'")
            cmd = [
                mvn, "-B", "-q", f"-Dmaven.repo.local={cache_dir() / 'm2'}", "dependency:copy",
                f"-Dartifact=org.apache.logging.log4j:{want}:{LOG4J2_VERSION}",
                f"-DoutputDirectory={libs}",
            ]  # fmt: skip
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
            except subprocess.TimeoutExpired as exc:
                raise SandboxError(f"Maven did not fetch {want} within 5 minutes") from exc
            if proc.returncode != 0 or not jar.exists():
                tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
                raise SandboxError(f"Maven could not fetch {want}: " + " | ".join(tail))
        for j in libs.glob("log4j-slf4j*-impl-*.jar"):
            if j.name != jar.name:
                j.unlink(missing_ok=True)
    return jar


def libs_dir(version: str) -> Path:
    return cache_dir() / "kafka" / version / "libs"


def ensure_kafka_jars(version: str = DEFAULT_KAFKA_VERSION, *, quiet: bool = False) -> Path:
    """Return the folder holding every jar of Kafka ``version``, downloading it on first use.

    Idempotent: a ``.complete`` marker is written only after Maven succeeded, so an interrupted
    download is redone rather than trusted.
    """
    target = libs_dir(version)
    marker = target.parent / ".complete"
    if marker.exists() and any(target.glob("kafka_2.13-*.jar")):
        ensure_slf4j_binding(target)
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SandboxError(
            "Maven ('mvn') is not installed; run 'make setup' or apt-get install maven"
        )
    work = target.parent
    work.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    pom = work / "pom.xml"
    pom.write_text(_POM_TEMPLATE.format(version=version, log4j=LOG4J2_VERSION))
    cmd = [
        mvn,
        "-B",
        "-q",
        f"-Dmaven.repo.local={cache_dir() / 'm2'}",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={target}",
    ]
    if not quiet:
        print(f"Resolving Apache Kafka {version} jars from Maven Central …", file=sys.stderr)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"Maven did not resolve Kafka {version} within 15 minutes") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SandboxError(f"Maven could not resolve Apache Kafka {version}: " + " | ".join(tail))
    ensure_slf4j_binding(target, mvn=mvn)
    marker.write_text(version + "\n")
    return target


def classpath(version: str) -> str:
    """A JVM classpath wildcard for the cached jars of ``version``."""
    return str(libs_dir(version)) + "/*"


#: The Prometheus JMX exporter java agent (what MSK Open Monitoring runs on port 11001).
JMX_EXPORTER_VERSION = "1.0.1"

_AGENT_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkaops</groupId><artifactId>jmx-exporter</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.prometheus.jmx</groupId>
      <artifactId>jmx_prometheus_javaagent</artifactId><version>{version}</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>
      </exclusions></dependency>
  </dependencies>
</project>
"""


def ensure_jmx_exporter(version: str = JMX_EXPORTER_VERSION) -> Path:
    """The JMX exporter agent jar (a self-contained shaded jar), downloaded once via Maven."""
    work = cache_dir() / "jmx-exporter" / version
    jar = work / "lib" / f"jmx_prometheus_javaagent-{version}.jar"
    if jar.exists():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SandboxError("Maven ('mvn') is not installed; run 'make setup'")
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_AGENT_POM.format(version=version))
    cmd = [
        mvn, "-B", "-q", f"-Dmaven.repo.local={cache_dir() / 'm2'}", "-f", str(work / "pom.xml"),
        "dependency:copy-dependencies", f"-DoutputDirectory={work / 'lib'}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError("Maven did not resolve the JMX exporter within 10 minutes") from exc
    if proc.returncode != 0 or not jar.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise SandboxError("Maven could not resolve the JMX exporter: " + " | ".join(tail))
    return jar


#: MirrorMaker 2 (``org.apache.kafka.connect.mirror.MirrorMaker``, dedicated mode): the
#: connect-mirror modules of the same version as the brokers, resolved into a folder of their
#: own (with connect-runtime and kafka-clients), so the broker folder and its marker stay as
#: they are.
_MIRROR_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkaops.sandbox</groupId><artifactId>kafka-mirror-jars</artifactId>
  <version>{version}</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-mirror</artifactId>
      <version>{version}</version>
      <exclusions>
        <exclusion><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId></exclusion>
      </exclusions></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-mirror-client</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-1.2-api</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def mirror_libs_dir(version: str) -> Path:
    return cache_dir() / "kafka-mirror" / version / "libs"


def ensure_mirror_jars(version: str = DEFAULT_KAFKA_VERSION, *, quiet: bool = False) -> Path:
    """The folder holding MirrorMaker 2 ``version`` and its dependencies, resolved on first use."""
    target = mirror_libs_dir(version)
    marker = target.parent / ".complete"
    if marker.exists() and any(target.glob("connect-mirror-*.jar")):
        ensure_slf4j_binding(target)
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SandboxError("Maven ('mvn') is not installed; run 'make setup'")
    work = target.parent
    work.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    pom = work / "pom.xml"
    pom.write_text(_MIRROR_POM.format(version=version, log4j=LOG4J2_VERSION))
    cmd = [
        mvn, "-B", "-q", f"-Dmaven.repo.local={cache_dir() / 'm2'}", "-f", str(pom),
        "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={target}",
    ]  # fmt: skip
    if not quiet:
        print(f"Resolving MirrorMaker 2 {version} jars from Maven Central …", file=sys.stderr)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"Maven did not resolve MirrorMaker 2 {version} in 15 minutes") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SandboxError(f"Maven could not resolve MirrorMaker 2 {version}: " + " | ".join(tail))
    ensure_slf4j_binding(target, mvn=mvn)
    marker.write_text(version + "\n")
    return target
