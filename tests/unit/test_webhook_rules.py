from __future__ import annotations

import pytest

from chalicelib.domain.errors import Invalid
from chalicelib.domain.webhooks import BadSignature, check_target, sign, verify

NOW = 1_800_000_000


def public(host):
    return ["93.184.216.34"]


def test_a_signature_verifies_with_its_secret_and_body_only():
    header = sign("s3cret", b'{"a":1}', NOW)
    verify("s3cret", b'{"a":1}', header, NOW)
    for secret, body in (("other", b'{"a":1}'), ("s3cret", b'{"a":2}')):
        with pytest.raises(BadSignature):
            verify(secret, body, header, NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_signature_outside_the_tolerance_is_refused(skew):
    with pytest.raises(BadSignature):
        verify("s", b"x", sign("s", b"x", NOW + skew), NOW)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=abc,v1=00", "t=1800000000", "garbage",
                                    f"t={NOW},v1=\u00e9", f"t={NOW},v1=00,v1=\u00ff\u00fe"])
def test_malformed_signature_headers_are_refused(header):
    with pytest.raises(BadSignature):
        verify("s", b"x", header, NOW)


def test_any_of_several_v1_signatures_may_match_during_a_secret_rotation():
    good = sign("new", b"x", NOW).split(",")[1]
    verify("new", b"x", f"t={NOW},v1=deadbeef,{good}", NOW)


def test_no_configured_secret_refuses_everything():
    with pytest.raises(BadSignature):
        verify("", b"x", sign("", b"x", NOW), NOW)


@pytest.mark.parametrize("url", ["https://hooks.example.com/shelf", "https://93.184.216.34:8443/x"])
def test_public_https_targets_are_accepted(url):
    check_target(url, public, allow_local=False)


@pytest.mark.parametrize("url,resolves_to", [
    ("http://hooks.example.com/x", ["93.184.216.34"]),
    ("https://127.0.0.1/x", []),
    ("https://10.1.2.3/x", []),
    ("https://192.168.0.1/x", []),
    ("https://169.254.169.254/latest", []),
    ("https://[::1]/x", []),
    ("https://[::ffff:127.0.0.1]/x", []),
    ("https://rebind.example.com/x", ["93.184.216.34", "10.0.0.1"]),
    ("https://internal.example.com/x", ["172.16.5.4"]),
    ("https://user:pw@hooks.example.com/x", ["93.184.216.34"]),
    ("https://nowhere.example.com/x", []),
    ("gopher://hooks.example.com/x", ["93.184.216.34"]),
    ("https://hooks.example.com:99999/x", ["93.184.216.34"]),
])
def test_non_public_or_odd_targets_are_refused(url, resolves_to):
    with pytest.raises(Invalid):
        check_target(url, lambda host: resolves_to, allow_local=False)


def test_local_development_may_target_loopback_over_http():
    check_target("http://127.0.0.1:9999/hook", lambda host: [], allow_local=True)
    check_target("http://localhost:9999/hook", lambda host: ["127.0.0.1"], allow_local=True)


def test_a_name_that_does_not_resolve_is_refused():
    def fails(host):
        raise OSError("NXDOMAIN")

    with pytest.raises(Invalid):
        check_target("https://nope.example.com/", fails, allow_local=False)
