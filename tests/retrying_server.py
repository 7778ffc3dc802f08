"""The test suite's Prefect server: Prefect's own server app (what `prefect server start` runs, services
included), behind one ASGI layer that never hands a test a "503 Service Unavailable".

A Prefect server on SQLite answers 503 when a write finds the database locked ("database is locked",
SQLITE_BUSY_SNAPSHOT: PrefectHQ/prefect#16304, #16299, #19771). The failed request's transaction is
rolled back, so Prefect's client retries it, but only 5 times; on a loaded 2-core CI machine with four
xdist workers writing at once, `prefect deploy` once ran out of retries. Here the server itself replays
such a request (the same method, path and body) after a short pause, for up to ``PATIENCE`` seconds,
exactly as the client would, and only then gives up with the 503. Websockets (events) and the app's
lifespan (its services) pass through untouched.

Run as ``python tests/retrying_server.py --host 127.0.0.1 --port N``, with the server's settings in the
environment (``tests/servers.py``'s ``server_settings``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

PATIENCE = 300.0
"""Seconds a request that keeps finding the database locked is replayed before its 503 is passed on."""
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 2.0
BUSY = 503
REPLAYED = "replayed after 503:"
"""The line (in the server's log) for each replay."""


class ReplayBusy:
    """ASGI middleware: an HTTP request whose response is a 503 is run again (body buffered) until it is
    not, or ``patience`` seconds have passed. Responses are buffered: Prefect's API answers small JSON."""

    def __init__(self, app, patience: float = PATIENCE):
        self.app, self.patience = app, patience
        self.replayed = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        deadline, pause = time.monotonic() + self.patience, FIRST_PAUSE
        while True:
            sent = await self._attempt(scope, body, receive)
            if sent and sent[0].get("status") == BUSY and time.monotonic() < deadline:
                self.replayed += 1
                sys.stderr.write(f"{REPLAYED} {scope['method']} {scope['path']}\n")
                sys.stderr.flush()
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
                continue
            for message in sent:
                await send(message)
            return

    async def _attempt(self, scope, body: bytes, receive) -> list[dict]:
        """One run of the request through the app; the messages it sent."""
        sent: list[dict] = []
        given = False

        async def replay():
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body, as a real receive: waits for the disconnect

        async def capture(message):
            sent.append(message)

        try:
            await self.app(dict(scope), replay, capture)  # routing writes into the scope: a fresh copy each time
        except Exception:
            # Starlette re-raises a handled exception after sending its response (the 503 itself)
            if not (sent and sent[0].get("status") == BUSY):
                raise
        return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn
    from prefect.server.api.server import create_app

    uvicorn.run(
        app=ReplayBusy(create_app(final=True)),
        host=args.host,
        port=args.port,
        log_level="warning",
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )


if __name__ == "__main__":
    main()
