"""The delivery log names a class of failure, never the connection error itself (which would make the
log a port scanner). Real sockets on loopback, the real HttpSender."""
from __future__ import annotations

import socket

import pytest

from chalicelib.adapters.webhooks import HttpSender
from chalicelib.services.ports import SendFailed
from chalicelib.services.webhooks import http_failure


def _post(url: str, timeout: float = 1.0) -> int:
    return HttpSender().post(url, b"{}", {"Content-Type": "application/json"}, timeout)


def _kind(url: str, timeout: float = 1.0) -> str:
    with pytest.raises(SendFailed) as caught:
        _post(url, timeout)
    assert str(caught.value) == caught.value.kind
    return caught.value.kind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_is_connection_refused():
    assert _kind(f"http://127.0.0.1:{_free_port()}/hook") == "connection_refused"


def test_a_silent_receiver_is_a_timeout():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)  # accepts the connection in the kernel, never answers
        assert _kind(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", timeout=0.3) == "timeout"


def test_https_to_a_plain_http_server_is_tls(receiver):
    assert _kind(f"https://127.0.0.1:{receiver.port}/hook") == "tls"
    assert _post(f"http://127.0.0.1:{receiver.port}/hook") == 200


def test_a_name_that_does_not_resolve_is_dns():
    assert _kind("https://no-such-host.invalid/hook") == "dns"


@pytest.mark.parametrize("code,kind", [(301, "http_3xx"), (404, "http_4xx"), (410, "http_4xx"),
                                       (500, "http_5xx"), (503, "http_5xx"), (199, "http_other")])
def test_answers_are_classed_by_status(code, kind):
    assert http_failure(code) == kind
