"""A real, local Tryton ERP for tests and the demo: build a database once, copy it, run ``trytond``.

Building a database with sales, stock and accounting activated takes about 25 s,
so :func:`build_template` does it once per Tryton version and caches the SQLite
file; every :class:`TrytonServer` then starts from a copy in about a second.
The server listens on 127.0.0.1 only. Needs the ``tryton`` extra
(``pip install -e ".[tryton]"``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"
MODULES = ("sale", "stock", "account_invoice", "account_invoice_stock")


def tryton_available() -> bool:
    """True when the Tryton packages (the ``tryton`` extra) are installed."""
    return shutil.which("trytond") is not None and shutil.which("trytond-admin") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_config(directory: Path, port: int) -> Path:
    config = directory / f"trytond-{port}.conf"
    config.write_text(
        f"[database]\nuri = sqlite://\npath = {directory}\n\n[web]\nlisten = 127.0.0.1:{port}\n\n"
        "[session]\nauthentications = password\n"
    )
    return config


def _trytond_version() -> str:
    from importlib.metadata import version

    return version("trytond")


def build_template(cache_dir: Path | None = None) -> Path:
    """The path of a ready database file (modules activated, company, chart of accounts, fiscal year).

    Built once per Tryton version into ``cache_dir`` (default ``~/.cache/doohickey``) and reused.
    """
    cache_dir = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "doohickey"
    target = cache_dir / f"tryton-{_trytond_version()}" / "template.sqlite"
    if target.exists():
        return target
    work = target.parent / f"build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = _write_config(work, _free_port())
    (work / "template.sqlite").touch()
    password_file = work / "admin-password"
    password_file.write_text(ADMIN_PASSWORD)
    env = {**os.environ, "TRYTONPASSFILE": str(password_file)}
    _run(["trytond-admin", "-c", str(config), "-d", "template", "--all", "--email", "admin@example.com"], env)
    _run(["trytond-admin", "-c", str(config), "-d", "template", "-u", *MODULES, "--activate-dependencies"], env)
    _run([sys.executable, "-m", "doohickey.connectors.tryton.setup_db", str(config), "template"], env)
    os.replace(work / "template.sqlite", target)
    shutil.rmtree(work, ignore_errors=True)
    return target


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed ({result.returncode}):\n{result.stderr[-3000:]}")


class TrytonServer:
    """One running ``trytond`` on a copy of the template database, bound to 127.0.0.1."""

    def __init__(self, workdir: Path, *, database: str = "doohickey", template: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.database = database
        self.template = template
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the database (JSON-RPC at ``{url}/rpc/``)."""
        return f"http://127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 30.0) -> str:
        """Copy the template, start the server and wait until a login succeeds; returns :attr:`url`."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.template or build_template(), self.workdir / f"{self.database}.sqlite")
        self.port = _free_port()
        config = _write_config(self.workdir, self.port)
        log = open(self.workdir / "trytond.log", "wb")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(["trytond", "-c", str(config), "-d", self.database],
                                        stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        body = {"id": 0, "method": "common.db.login", "params": [ADMIN_LOGIN, {"password": ADMIN_PASSWORD}, "en"]}
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"trytond exited early; see {self.workdir / 'trytond.log'}")
            try:
                if httpx.post(f"{self.url}/rpc/", json=body, timeout=2).json().get("result"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"trytond did not answer within {timeout:.0f}s; see {self.workdir / 'trytond.log'}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> TrytonServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
