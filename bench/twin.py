"""How fast the Shopify twin answers Admin GraphQL over loopback, and where the time goes.

Run: ``python bench/twin.py [--seconds 5] [--concurrency 8]``.

The twin runs in its own process (uvicorn, one worker: one core) with the
generated sample data and a cost bucket too large to throttle; the client is a
minimal keep-alive HTTP/1.1 client on asyncio (so the client costs little
next to the server). It prints requests/s and latency per query, then an
in-process breakdown of one orders-page request (parse + validate, cost,
execute, JSON) against the HTTP round trip, and the start-up time of
``doohickey sandbox serve shopify``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import re
import socket
import subprocess
import sys
import time
from statistics import mean, quantiles

TOKEN = "shpat_twin_token"
PATH = "/admin/api/2025-10/graphql.json"
QUERIES = {
    "shop (tiny)": "{ shop { name } }",
    "orders first:10": "{ orders(first: 10) { edges { cursor node { id name updatedAt displayFinancialStatus "
                       "totalPriceSet { shopMoney { amount currencyCode } } } } pageInfo { hasNextPage endCursor } } }",
    "orders first:10 + lines": "{ orders(first: 10) { nodes { id name email totalPriceSet { shopMoney { amount } } "
                               "customer { id email } lineItems(first: 10) { nodes { sku quantity "
                               "originalUnitPriceSet { shopMoney { amount } } } } } pageInfo { hasNextPage } } }",
}
SERVER = """
import sys, uvicorn
from doohickey.twins import create_twin
twin = create_twin("shopify", data=True, maximum_available=1e12, restore_rate=1e12, result_cache=sys.argv[2] == "1")
uvicorn.run(twin.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request_bytes(query: str, port: int) -> bytes:
    body = json.dumps({"query": query}).encode()
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Shopify-Access-Token: {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def one_connection(port: int, payload: bytes, deadline: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
            body = await reader.readexactly(length)
            if b'"errors"' in body:
                raise RuntimeError(body[:300].decode())
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(port: int, query: str, seconds: float, concurrency: int) -> tuple[int, float, list[float]]:
    payload = request_bytes(query, port)
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(one_connection(port, payload, deadline, latencies) for _ in range(concurrency)))
    return len(latencies), time.perf_counter() - started, latencies


def wait_up(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the twin did not start")


def http_table(seconds: float, concurrency: int) -> dict[str, float]:
    """Requests/s per query, executed every time (result cache off) and answered from the result cache."""
    rates = {}
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    print(f"Shopify twin over loopback: uvicorn ({parser}), 1 process, {concurrency} keep-alive connections, "
          f"{seconds:g} s per row, 50 generated orders")
    print(f"{'query':28} {'result cache':>12} {'requests':>9} {'req/s':>8} {'mean ms':>8} {'p95 ms':>8}")
    for cached in (False, True):
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), "1" if cached else "0"])
        try:
            wait_up(port)
            for name, query in QUERIES.items():
                asyncio.run(load(port, query, 0.5, concurrency))  # warm-up: document cache, SQLite pages
                count, elapsed, latencies = asyncio.run(load(port, query, seconds, concurrency))
                rates[(name, cached)] = count / elapsed
                p95 = quantiles(latencies, n=20)[18] if len(latencies) > 20 else max(latencies)
                print(f"{name:28} {'on' if cached else 'off':>12} {count:9d} {count / elapsed:8.0f} "
                      f"{mean(latencies) * 1000:8.2f} {p95 * 1000:8.2f}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    return rates


def breakdown(rate: float, repeat: int = 300) -> None:
    """Per-request cost of the orders page inside the process, against the HTTP round trip."""
    from graphql import FragmentDefinitionNode, execute, parse, validate

    from doohickey.twins import create_twin
    from doohickey.twins.shopify.api import GraphQLApi, Loader, _default, _never, _operation
    from doohickey.twins.shopify.cost import actual_cost, requested_cost
    from doohickey.twins.shopify.fastpath import execute_fast

    twin = create_twin("shopify", data=True, maximum_available=1e12, restore_rate=1e12)
    api = GraphQLApi(twin.state, twin.state.bucket, result_cache=False)
    query = QUERIES["orders first:10"]

    def timed(fn) -> float:
        fn()
        started = time.perf_counter()
        for _ in range(repeat):
            fn()
        return (time.perf_counter() - started) / repeat * 1e6

    document = parse(query)
    operation = _operation(document, None)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    context = {"state": twin.state, "loader": Loader(twin.state)}
    result = execute(api.schema, document, context_value=context, field_resolver=_default)
    rows = [
        ("parse + validate (uncached)", timed(lambda: validate(api.schema, parse(query)))),
        ("document cache hit", timed(lambda: api.document(query))),
        ("requested + actual cost", timed(lambda: (requested_cost(api.schema, operation, fragments, {}),
                                                   actual_cost(api.schema, operation, fragments, {}, result.data)))),
        ("execute with graphql-core", timed(lambda: execute(api.schema, document, context_value={
            "state": twin.state, "loader": Loader(twin.state)}, field_resolver=_default, is_awaitable=_never))),
        ("execute with the lean executor", timed(lambda: execute_fast(api.schema, operation, fragments, {}, {
            "state": twin.state, "loader": Loader(twin.state)}, _default))),
        ("JSON encode response", timed(lambda: json.dumps({"data": result.data}))),
        ("whole api.run (document cached, lean)", timed(lambda: api.run(query))),
    ]
    print("\nWhere the time goes (orders first:10, in process, microseconds per request)")
    for name, micros in rows:
        print(f"  {name:38} {micros:9.0f}")
    if rate:
        print(f"  {'one request at the measured rate':38} {1e6 / rate:9.0f}  (the rest is uvicorn, Starlette, "
              "fault middleware)")


def startup() -> None:
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", "from doohickey.cli import main; main()", "sandbox", "serve",
                                "shopify", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = re.search(r"http://127\.0\.0\.1:(\d+)", process.stdout.readline())
        wait_up(int(url.group(1)))
        print(f"\n`doohickey sandbox serve shopify` (with sample data) accepts connections after "
              f"{time.monotonic() - started:.2f} s")
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rates = http_table(args.seconds, args.concurrency)
    breakdown(rates.get(("orders first:10", False), 0.0))
    startup()


if __name__ == "__main__":
    main()
