"""Run a coroutine function to completion on an event loop of its own thread.

Playwright's sync API, used by the browser tests earlier in the same pytest session, can leave an
event loop running in the main thread, where `asyncio.run`/`anyio.run` then refuse to start.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, Callable

import anyio


def run_in_own_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """`anyio.run(fn, *args)` in a fresh thread; its result, or its exception re-raised here."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, fn, *args).result()
