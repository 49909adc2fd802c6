"""A real Tryton ERP for the tests: the template database is built once, each module gets its own server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from doohickey.connectors.spec import ConnectionSettings, Secret
from doohickey.connectors.tryton.server import TrytonServer, build_template, tryton_available

pytestmark = pytest.mark.tryton


@pytest.fixture(scope="session")
def tryton_template() -> Path:
    """The prepared database file (built once per Tryton version, about 25 s the first time)."""
    if not tryton_available():
        pytest.skip("Tryton is not installed: pip install -e '.[tryton]' (scripts/test.sh does it)")
    return build_template()


@pytest.fixture(scope="module")
def tryton(tryton_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrytonServer]:
    """A running trytond on 127.0.0.1 with a fresh copy of the template database."""
    server = TrytonServer(tmp_path_factory.mktemp("tryton"), template=tryton_template)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tryton_settings(tryton: TrytonServer) -> ConnectionSettings:
    """Connection settings for the running Tryton (admin user)."""
    return ConnectionSettings(system="erp", url=tryton.url, secrets={"password": Secret("admin")},
                              options={"carrier": "UPS"})
