"""Fixtures shared by every test package: the async backend and the shared reference folder."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository (contracts, benchmarks); skips the test where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared is not present beside the repository (looked in {SHARED})")
    return SHARED
