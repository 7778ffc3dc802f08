"""The test suite's Prefect server never answers 503 to a test (issue 29, point 12): a request the locked
SQLite database failed is replayed by the server (tests/retrying_server.py) until it goes through."""

import asyncio
import sqlite3
import threading

import pytest

from .retrying_server import REPLAYED, ReplayBusy
from .servers import client_call, prefect_server


def app_failing(times: int, status: int = 503, raise_after: bool = True):
    """An ASGI app that answers ``status`` ``times`` times (and, as Starlette does after a handled
    exception, raises after sending it), then 200 with the body it was sent; the bodies it saw."""
    seen = []

    async def app(scope, receive, send):
        assert scope["path"] == "/api/flows/"  # the request as it came, not as routing left it
        scope["path"] = "/flows/"  # what a mounted app does to its scope
        body = (await receive())["body"]
        seen.append(body)
        if len(seen) <= times:
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b'{"exception_message": "Service Unavailable"}'})
            if raise_after:
                raise RuntimeError("database is locked")
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok:" + body})

    return app, seen


def call(app, body: bytes = b'{"name": "x"}'):
    """One POST through ``app``, its body in two parts; the messages the client got."""
    half = len(body) // 2
    incoming = [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:], "more_body": False},
    ]
    got = []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        got.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/flows/"}
    asyncio.run(app(scope, receive, send))
    return got


def test_a_503_is_replayed_with_the_same_body_until_the_request_goes_through(monkeypatch):
    monkeypatch.setattr("tests.retrying_server.FIRST_PAUSE", 0.001)
    inner, seen = app_failing(3)
    layer = ReplayBusy(inner)
    got = call(layer)
    assert got[0]["status"] == 200 and got[1]["body"] == b'ok:{"name": "x"}'
    assert seen == [b'{"name": "x"}'] * 4 and layer.replayed == 3


def test_other_errors_pass_through_and_a_503_past_the_patience_is_passed_on(monkeypatch):
    monkeypatch.setattr("tests.retrying_server.FIRST_PAUSE", 0.001)
    inner, seen = app_failing(1, status=500)
    with pytest.raises(RuntimeError, match="database is locked"):  # a 500 is a bug: never replayed
        call(ReplayBusy(inner))
    assert len(seen) == 1
    inner, seen = app_failing(10**6, raise_after=False)
    got = call(ReplayBusy(inner, patience=0.0))
    assert got[0]["status"] == 503 and len(seen) == 1


def test_websockets_and_lifespan_pass_through_untouched():
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["type"])

    for kind in ("websocket", "lifespan"):
        asyncio.run(ReplayBusy(app)({"type": kind}, None, None))
    assert calls == ["websocket", "lifespan"]


@pytest.mark.slow
@pytest.mark.server
def test_the_test_server_waits_out_a_locked_database_instead_of_answering_503(tmp_path):
    """The database locked by another writer for longer than SQLite's busy timeout (60 s): a write
    through a client that does not retry at all still succeeds, because the server replayed it."""
    from prefect.settings import PREFECT_API_REQUEST_TIMEOUT, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    home = tmp_path / "server"
    with prefect_server(home) as url:
        client_call(url, lambda c: c.create_flow_from_name("before-the-lock"))  # the server is up and writing
        locked, release = threading.Event(), threading.Event()

        def hold_the_write_lock():
            db = sqlite3.connect(home / "prefect.db", timeout=60, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")  # WAL: the one write lock; the server's writers wait on it
            locked.set()
            release.wait(75)  # past the server's 60 s busy timeout: SQLite gives up, Prefect answers 503
            db.execute("ROLLBACK")
            db.close()

        holder = threading.Thread(target=hold_the_write_lock)
        holder.start()
        assert locked.wait(60)
        try:
            with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0, PREFECT_API_REQUEST_TIMEOUT: 600}):
                flow_id = client_call(url, lambda c: c.create_flow_from_name("during-the-lock"))
        finally:
            release.set()
            holder.join()
        assert client_call(url, lambda c: c.read_flow(flow_id).name) == "during-the-lock"
    log = (home / "server.log").read_text()
    assert f"{REPLAYED} POST /api/flows/" in log, log[-2000:]  # it did answer 503, and it was replayed
