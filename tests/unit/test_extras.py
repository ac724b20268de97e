"""Packaging: the extras of pyproject.toml and the one-line hint for a missing one."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from kafkaops.core.extras import EXTRA_OF_MODULE, missing_extra

ROOT = Path(__file__).resolve().parents[2]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(reqs: list[str]) -> set[str]:
    return {re.split(r"[\[<>=~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}


def test_plain_install_has_no_optional_package_and_each_extra_brings_its_modules() -> None:
    project = _project()
    core = _names(project["dependencies"])
    extras = project["optional-dependencies"]
    pkg = {"boto3": "boto3", "botocore": "boto3", "aws_msk_iam_sasl_signer":
           "aws-msk-iam-sasl-signer-python", "psycopg": "psycopg", "fastapi": "fastapi",
           "starlette": "fastapi", "uvicorn": "uvicorn", "psutil": "psutil",
           "matplotlib": "matplotlib"}  # fmt: skip
    assert set(pkg) == set(EXTRA_OF_MODULE)
    for module, extra in EXTRA_OF_MODULE.items():
        assert pkg[module] not in core, module
        assert pkg[module] in _names(extras[extra]), (module, extra)
    assert {"aws", "postgres", "serve", "sandbox", "charts"} <= set(extras)
    assert "kafkaops[all]" in extras["dev"]  # `pip install -e '.[dev]'` has what tests need
    # ranges in pyproject, exact pins only in the lock files
    assert not [r for r in project["dependencies"] if "==" in r]
    assert "version" in project["dynamic"] and "version" not in project


def test_lock_pins_every_direct_dependency_inside_its_range() -> None:
    from packaging.requirements import Requirement

    lock = {}
    for line in (ROOT / "requirements" / "dev.lock").read_text().splitlines():
        if "==" in line and not line.startswith(("#", " ")):
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version.strip()
    project = _project()
    reqs = list(project["dependencies"])
    for items in project["optional-dependencies"].values():
        reqs += [r for r in items if not r.startswith("kafkaops[")]
    for text in reqs:
        req = Requirement(text)
        name = req.name.lower().replace("_", "-")
        assert name in lock, f"{name} is not in requirements/dev.lock: run 'make lock'"
        assert req.specifier.contains(lock[name]), f"{name}=={lock[name]} outside {text}"


def test_missing_extra_is_named_with_the_pip_command() -> None:
    hint = missing_extra(ModuleNotFoundError("No module named 'boto3'", name="boto3"))
    assert hint == (
        "boto3 is not installed (optional, for this command): pip install 'kafkaops[aws]'"
    )
    assert "kafkaops[serve]" in str(missing_extra(ModuleNotFoundError(name="fastapi.responses")))
    assert missing_extra(ModuleNotFoundError(name="kafkaops.nope")) is None
