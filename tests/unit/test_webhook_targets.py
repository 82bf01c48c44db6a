"""Where webhooks may go: IPv6 forms that carry an IPv4 address are judged by that address, and only
the HTTPS ports 443 and 8443 are allowed (SSRF and port scanning)."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import Invalid
from chalicelib.domain.webhooks import ALLOWED_PORTS, check_target, embedded_ipv4


def public(host: str) -> list[str]:
    return ["93.184.216.34"]


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1",          # NAT64 (RFC 6052) of 127.0.0.1
    "64:ff9b::a00:1",           # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",       # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",         # local-use NAT64 prefix (RFC 8215)
    "2002:7f00:1::",            # 6to4 of 127.0.0.1
    "2002:c0a8:1::1",           # 6to4 of 192.168.0.1
    "::127.0.0.1",              # IPv4-compatible (deprecated) loopback
    "::10.0.0.1",
    "::ffff:127.0.0.1",         # IPv4-mapped
    "::ffff:0:127.0.0.1",       # IPv4-translated (RFC 2765)
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
])
def test_ipv6_forms_of_private_loopback_or_odd_addresses_are_refused(address):
    with pytest.raises(Invalid):
        check_target(f"https://[{address}]/hook", public, allow_local=False)
    with pytest.raises(Invalid):
        check_target("https://hooks.example.com/x", lambda host: [address], allow_local=False)


@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"])
def test_ipv6_forms_of_public_addresses_are_accepted(address):
    check_target(f"https://[{address}]/hook", public, allow_local=False)


def test_the_embedded_ipv4_is_found_in_every_transition_form():
    assert str(embedded_ipv4("64:ff9b::7f00:1")) == "127.0.0.1"
    assert str(embedded_ipv4("2002:7f00:1::")) == "127.0.0.1"
    assert str(embedded_ipv4("::127.0.0.1")) == "127.0.0.1"
    assert str(embedded_ipv4("::ffff:10.1.2.3")) == "10.1.2.3"
    assert embedded_ipv4("2606:4700:4700::1111") is None


@pytest.mark.parametrize("port", [22, 25, 80, 6379, 8080, 9200, 1, 65535])
def test_only_https_ports_are_allowed(port):
    with pytest.raises(Invalid):
        check_target(f"https://hooks.example.com:{port}/x", public, allow_local=False)


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "https://hooks.example.com:443/x",
                                 "https://hooks.example.com:8443/x"])
def test_https_ports_pass(url):
    assert ALLOWED_PORTS == (443, 8443)
    check_target(url, public, allow_local=False)


def test_local_development_may_use_any_port():
    check_target("http://127.0.0.1:45123/hook", lambda host: [], allow_local=True)
