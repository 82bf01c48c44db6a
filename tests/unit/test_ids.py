"""Ids: opaque, typed by prefix, 128 bits of randomness where they act as a capability."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ids import derived_id, new_id, new_secret, rfc3339, sha256_hex, utc_now

# 16 bytes in unpadded lowercase base32: 26 characters of a-z2-7 (130 bits, 128 of them random).
ID_BODY = re.compile(r"[a-z2-7]{26}")


class TestNewId:
    @pytest.mark.parametrize("prefix", ["prod", "cart", "ord", "evt"])
    def test_an_id_is_its_prefix_then_26_base32_characters(self, prefix):
        value = new_id(prefix)
        head, _, body = value.partition("_")
        assert head == prefix
        assert ID_BODY.fullmatch(body), value

    def test_ids_do_not_repeat(self):
        ids = {new_id("cart") for _ in range(10_000)}
        assert len(ids) == 10_000

    def test_an_id_is_url_safe(self):
        assert re.fullmatch(r"[a-z0-9_]+", new_id("ord"))


class TestDerivedId:
    def test_the_same_inputs_give_the_same_id(self):
        assert derived_id("ord", "cart_1", "key-1") == derived_id("ord", "cart_1", "key-1")

    def test_a_derived_id_looks_like_any_other_id(self):
        head, _, body = derived_id("ord", "cart_1", "key-1").partition("_")
        assert head == "ord" and ID_BODY.fullmatch(body)

    def test_different_inputs_give_different_ids(self):
        assert derived_id("ord", "cart_1", "key-1") != derived_id("ord", "cart_1", "key-2")
        assert derived_id("ord", "cart_1", "key-1") != derived_id("ord", "cart_2", "key-1")

    def test_the_order_of_the_parts_matters(self):
        assert derived_id("ord", "a", "b") != derived_id("ord", "b", "a")

    def test_parts_are_kept_apart(self):
        assert derived_id("ord", "ab", "c") != derived_id("ord", "a", "bc")
        assert derived_id("ord", "abc") != derived_id("ord", "ab", "c")

    def test_the_prefix_names_the_type_only(self):
        a, b = derived_id("ord", "x"), derived_id("evt", "x")
        assert a.split("_", 1)[1] == b.split("_", 1)[1]

    @given(st.lists(st.text(), max_size=5))
    def test_derived_ids_are_deterministic_for_any_text(self, parts):
        assert derived_id("evt", *parts) == derived_id("evt", *parts)
        assert ID_BODY.fullmatch(derived_id("evt", *parts).split("_", 1)[1])


class TestSecrets:
    def test_a_secret_has_its_prefix_and_32_random_bytes(self):
        secret = new_secret("sk")
        assert secret.startswith("sk_")
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret[len("sk_"):])  # 32 bytes, url-safe base64

    def test_the_size_of_a_secret_can_be_chosen(self):
        assert len(new_secret("tok", nbytes=16)) == len("tok_") + 22

    def test_secrets_do_not_repeat(self):
        assert len({new_secret("sk") for _ in range(1000)}) == 1000


class TestHashing:
    def test_sha256_hex_matches_the_standard_test_vector(self):
        assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    def test_sha256_hex_of_unicode_hashes_its_utf8(self):
        assert sha256_hex("é") == sha256_hex("\u00e9") != sha256_hex("e")
        assert len(sha256_hex("é")) == 64


class TestTime:
    def test_utc_now_is_timezone_aware_utc(self):
        now = utc_now()
        assert now.tzinfo is not None
        assert now.utcoffset() == timedelta(0)

    def test_rfc3339_formats_utc_with_a_z(self):
        assert rfc3339(datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)) == "2026-11-21T10:00:00Z"

    def test_rfc3339_converts_other_offsets_to_utc(self):
        paris = timezone(timedelta(hours=1))
        assert rfc3339(datetime(2026, 11, 21, 11, 0, tzinfo=paris)) == "2026-11-21T10:00:00Z"

    def test_rfc3339_crosses_the_date_line_when_converting(self):
        tokyo = timezone(timedelta(hours=9))
        assert rfc3339(datetime(2026, 11, 22, 2, 30, tzinfo=tokyo)) == "2026-11-21T17:30:00Z"

    def test_rfc3339_drops_fractions_of_a_second(self):
        assert rfc3339(datetime(2026, 11, 21, 10, 0, 5, 999_999, tzinfo=timezone.utc)) == "2026-11-21T10:00:05Z"

    @given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.just(timezone.utc)))
    def test_rfc3339_round_trips_to_the_second(self, at):
        text = rfc3339(at)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", text)
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert parsed == at.replace(microsecond=0)


def test_a_keyed_secret_is_the_same_for_the_same_key_and_value_and_differs_otherwise():
    from chalicelib.domain.ids import keyed_secret

    token = keyed_secret("ot", "k1", "ord_a")
    assert token == keyed_secret("ot", "k1", "ord_a") and token.startswith("ot_") and len(token) >= 40
    assert token != keyed_secret("ot", "k2", "ord_a") and token != keyed_secret("ot", "k1", "ord_b")
