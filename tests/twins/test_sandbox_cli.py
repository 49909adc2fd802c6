"""`doohickey sandbox serve` as a person runs it: starts fast, prints URL and token, serves, loads faults."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from doohickey.cli import app

CLI = [sys.executable, "-c", "from doohickey.cli import main; main()"]


def _start(*args: str) -> tuple[subprocess.Popen, str, list[str], float]:
    started = time.monotonic()
    process = subprocess.Popen([*CLI, "sandbox", "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    first = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", first)
    assert match, first + process.stderr.read()
    url = match.group(0)
    while True:
        try:
            httpx.get(f"{url}/_twin/log", timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() - started < 20
            time.sleep(0.02)
    elapsed = time.monotonic() - started
    lines = [first] + [process.stdout.readline() for _ in range(8)]
    return process, url, lines, elapsed


def test_serve_shopify_starts_quickly_and_serves_sample_data(tmp_path: Path):
    faults = tmp_path / "faults.yaml"
    faults.write_text("seed: 4\nfaults:\n  - {kind: latency, seconds: 0.01, paths: ['/admin/*']}\n")
    process, url, lines, elapsed = _start("shopify", "--port", "0", "--faults", str(faults))
    try:
        # The issue asks for under 2 s; this shared CI machine gets some slack (bench/twin.py reports the figure).
        assert elapsed < 4.0, f"started in {elapsed:.2f} s"
        text = "".join(lines)
        assert "token: shpat_twin_token" in text
        assert f"endpoint: {url}/admin/api/2025-10/graphql.json" in text
        assert "1 loaded from" in text and "docs/sandbox.md" in text
        response = httpx.post(f"{url}/admin/api/2025-10/graphql.json",
                              json={"query": "{ orders(first: 3) { nodes { name } } }"},
                              headers={"X-Shopify-Access-Token": "shpat_twin_token"})
        assert [n["name"] for n in response.json()["data"]["orders"]["nodes"]]
        assert httpx.get(f"{url}/_twin/faults").json()["seed"] == 4
        assert httpx.get(f"{url}/_twin/log").json()["log"][0]["kind"] == "latency"
        assert "Shopify twin" in httpx.get(f"{url}/").text
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_bad_faults_file_and_unknown_twin_get_clear_errors(tmp_path: Path):
    faults = tmp_path / "faults.yaml"
    faults.write_text("faults:\n  - {kind: earthquake}\n")
    runner = CliRunner()
    result = runner.invoke(app, ["sandbox", "serve", "shopify", "--faults", str(faults)])
    assert result.exit_code == 2
    assert str(faults) in result.output and "faults[0].kind" in result.output
    unknown = runner.invoke(app, ["sandbox", "serve", "magento"])
    assert unknown.exit_code == 2 and "unknown twin 'magento'" in unknown.output
    listed = runner.invoke(app, ["sandbox", "list"])
    assert "shopify" in listed.output and "8701" in listed.output
