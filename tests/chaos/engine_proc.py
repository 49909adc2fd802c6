"""The engine as its own process for the chaos suite: ``python -m tests.chaos.engine_proc`` (config JSON on stdin).

The config names the store, the fixed listen address, the flows to run, each System's URL and
secrets (the twins live in the test process and outlive every kill), the worker count and the
lease time. With ``workers > 1`` (PostgreSQL) this process starts engine-only worker processes
through :mod:`doohickey.engine.workers`, exactly as ``doohickey run --workers N`` does.
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import signal
import sys

from doohickey.connectors.spec import ConnectionSettings, Secret
from doohickey.engine.demo import EXAMPLE
from doohickey.engine.runtime import Runtime, RuntimeOptions
from doohickey.plan.load import load_plan


async def main(config: dict) -> None:
    plan = load_plan(EXAMPLE)
    plan = plan.model_copy(update={"flows": {k: v for k, v in plan.flows.items() if k in config["flows"]}},
                           deep=True)
    settings = {name: ConnectionSettings(name, s["url"], {k: Secret(v) for k, v in s["secrets"].items()})
                for name, s in config["systems"].items()}
    options = RuntimeOptions(env="production", store_url=config["store"], listen=config["listen"],
                             retry_scale=0.05, poll_scale=0.01, settings=settings, workers=config["workers"],
                             lease_seconds=config["lease_seconds"])
    runtime = await Runtime(plan, options).start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, runtime.request_stop)
    faulthandler.register(signal.SIGUSR1)
    print("ready", flush=True)
    try:
        await runtime.run()
    finally:
        await runtime.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.stdin.read())))
