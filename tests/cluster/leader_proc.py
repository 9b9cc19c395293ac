"""A separate process that competes for a leadership and prints what happens (used by the tests)."""

import asyncio
import sys

from bus.leader import Leadership


async def main(dsn: str, name: str) -> None:
    async def elected() -> None:
        print("LEADER", flush=True)

    async def deposed() -> None:
        print("DEPOSED", flush=True)

    leadership = Leadership(dsn, name, elected, deposed, heartbeat_s=0.5, lease_s=2.0, instance="proc")
    await leadership.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
