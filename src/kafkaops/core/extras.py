"""Which optional extra brings which import, so a missing one is named in one line.

Why: a plain ``pip install kafkaops`` is the CLI for self-managed Kafka with an SQLite store;
boto3, psycopg, FastAPI, psutil and matplotlib come with the ``aws``, ``postgres``, ``serve``,
``sandbox`` and ``charts`` extras (pyproject.toml).  Without this map a user who runs
``kafkaops serve`` on a plain install would see "internal error (ModuleNotFoundError …)".
"""

from __future__ import annotations

#: Top-level module name → the extra of pyproject.toml that installs it.
EXTRA_OF_MODULE = {
    "boto3": "aws",
    "botocore": "aws",
    "aws_msk_iam_sasl_signer": "aws",
    "psycopg": "postgres",
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "psutil": "sandbox",
    "matplotlib": "charts",
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """ "boto3 is not installed: pip install 'kafkaops[aws]'", or ``None`` for any other module."""
    top = (exc.name or "").partition(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return f"{top} is not installed (optional, for this command): pip install 'kafkaops[{extra}]'"
