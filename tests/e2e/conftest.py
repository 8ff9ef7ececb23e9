"""Fixtures: a shared server for most tests, fresh servers where a test needs its own."""

from __future__ import annotations

import datetime
import itertools
import uuid

import pytest
from spanloom_server import Client, Server

_counter = itertools.count()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("shared") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(server) -> Client:
    return Client(server.url, server.admin_key)


@pytest.fixture
def project(client) -> str:
    """A fresh project in the shared server's admin org."""
    return client.project(f"p-{next(_counter)}-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, stopped at the end."""
    servers = []

    def make(*args: str, env: dict | None = None, data_dir=None) -> Server:
        srv = Server(data_dir or tmp_path / f"data{len(servers)}", *args, env=env).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def span_row(project_id: str, row_id: str, trace: str, span: str, parent: str | None = None, **fields) -> dict:
    """A start row of a span in project logs."""
    row = {
        "id": row_id,
        "project_id": project_id,
        "log_id": "g",
        "span_id": span,
        "root_span_id": trace,
        "span_parents": [parent] if parent else None,
        # Now, not a fixed date: time-range queries (`created > now() - interval 1 day`) must find it.
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    row.update(fields)
    return row


def merge_row(project_id: str, row_id: str, **fields) -> dict:
    return {"id": row_id, "project_id": project_id, "log_id": "g", "_is_merge": True, **fields}


@pytest.fixture(scope="session")
def fake_provider():
    """The local fake LLM provider (OpenAI and Anthropic wire formats)."""
    from fake_provider import FakeProvider

    provider = FakeProvider().start()
    yield provider
    provider.stop()
