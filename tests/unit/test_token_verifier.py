"""Verification of customers' ID tokens, with tokens forged here under keys generated here."""
from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from chalicelib.adapters.cognito import CognitoTokenVerifier
from chalicelib.domain.errors import Unauthenticated, Unavailable

POOL = "us-east-1_TestPool"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
CLIENT = "storefrontclient"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY, OTHER_KEY = _key(), _key()


def _jwk(private_key, kid: str) -> dict:
    return {**json.loads(RSAAlgorithm.to_jwk(private_key.public_key())), "kid": kid, "alg": "RS256", "use": "sig"}


class FakeJwks(jwt.PyJWKClient):
    """PyJWKClient (its cache and its refresh on an unknown kid) over key sets held here, not fetched."""

    def __init__(self, *key_sets: list[dict], fail: bool = False):
        super().__init__("https://cognito-idp.example/jwks.json", cooldown_duration=0)
        self.key_sets = list(key_sets)
        self.fetches = 0
        self.fail = fail

    def fetch_data(self):
        if self.fail:
            raise jwt.PyJWKClientConnectionError("unreachable")
        data = {"keys": self.key_sets[min(self.fetches, len(self.key_sets) - 1)]}
        self.fetches += 1
        self.jwk_set_cache.put(data)
        return data


def claims(**changes) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "0f7c6c8e-1111-2222-3333-444455556666", "token_use": "id",
            "email": "ada@example.com", "iat": now, "exp": now + 3600, "auth_time": now}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def forge(payload: dict, key=KEY, kid: str = "k1", alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def jwks():
    return FakeJwks([_jwk(KEY, "k1")])


@pytest.fixture
def verifier(jwks):
    return CognitoTokenVerifier(issuer=ISSUER, audience=CLIENT, jwks=jwks)


def test_a_valid_id_token_names_the_customer(verifier):
    who = verifier.verify(forge(claims()))
    assert who.customer_id == "0f7c6c8e-1111-2222-3333-444455556666"
    assert who.email == "ada@example.com"


def test_a_token_signed_by_another_key_is_refused(verifier):
    with pytest.raises(Unauthenticated):
        verifier.verify(forge(claims(), key=OTHER_KEY))


def test_alg_none_is_refused(verifier):
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated):
        verifier.verify(unsigned)


def test_an_hmac_token_keyed_with_the_public_key_is_refused(verifier):
    import base64
    import hashlib
    import hmac

    # The classic algorithm confusion: HS256 with the RSA public key as the shared secret.
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public_pem = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(Unauthenticated):
        verifier.verify(f"{signing_input}.{b64(signature)}")


@pytest.mark.parametrize("changes", [
    {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool"},  # another pool
    {"iss": None},
    {"aud": "another-client"},
    {"aud": None},
    {"exp": int(time.time()) - 5},  # expired
    {"exp": None},
    {"sub": None},
    {"token_use": None},
    {"token_use": "access"},
])
def test_tokens_with_a_wrong_or_missing_claim_are_refused(verifier, changes):
    with pytest.raises(Unauthenticated):
        verifier.verify(forge(claims(**changes)))


def test_an_access_token_is_refused_where_an_id_token_is_needed(verifier):
    # Cognito's access tokens carry client_id, not aud, and token_use "access".
    access = claims(aud=None, token_use="access", client_id=CLIENT, email=None)
    with pytest.raises(Unauthenticated):
        verifier.verify(forge(access))


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 9000, "eyJhbGciOiJSUzI1NiJ9.e30."])
def test_garbage_is_refused(verifier, token):
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


def test_the_key_set_is_fetched_once_and_cached(verifier, jwks):
    for _ in range(3):
        verifier.verify(forge(claims()))
    assert jwks.fetches == 1


def test_an_unknown_kid_fetches_the_keys_again(jwks):
    rotated = FakeJwks([_jwk(KEY, "k1")], [_jwk(KEY, "k1"), _jwk(OTHER_KEY, "k2")])
    verifier = CognitoTokenVerifier(issuer=ISSUER, audience=CLIENT, jwks=rotated)
    verifier.verify(forge(claims()))
    assert verifier.verify(forge(claims(), key=OTHER_KEY, kid="k2")).email == "ada@example.com"
    assert rotated.fetches == 2
    with pytest.raises(Unauthenticated):
        verifier.verify(forge(claims(), key=OTHER_KEY, kid="k3"))


def test_unreachable_keys_are_a_503_not_a_401():
    verifier = CognitoTokenVerifier(issuer=ISSUER, audience=CLIENT, jwks=FakeJwks([], fail=True))
    with pytest.raises(Unavailable):
        verifier.verify(forge(claims()))


def test_no_configured_audience_accepts_nothing(jwks):
    with pytest.raises(Unauthenticated):
        CognitoTokenVerifier(issuer=ISSUER, audience="", jwks=jwks).verify(forge(claims(aud="")))
