"""The engine as its own process, for the crash test: ``python -m tests.engine.crash_engine CONFIG_JSON``.

CONFIG_JSON names the store, the fixed listen address and each System's URL and secrets (the
twins run in the test process, so they outlive every kill of this one).
"""

from __future__ import annotations

import asyncio
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
    options = RuntimeOptions(env="production", store_url=config["store"], listen=config["listen"], seed=None,
                             retry_scale=0.02, poll_scale=0.01, settings=settings)
    runtime = await Runtime(plan, options).start()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, runtime.request_stop)
    print("ready", flush=True)
    try:
        await runtime.run()
    finally:
        await runtime.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
