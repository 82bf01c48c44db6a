"""Amazon Cognito: the user pool behind customer accounts, and the verification of its ID tokens.

Cognito's errors are mapped here, at the boundary, to the domain's: the routes never see botocore."""
from __future__ import annotations

import threading
from functools import cached_property

from ..domain.customers import (
    BadCredentials,
    CodeRefused,
    EmailTaken,
    Identity,
    NotConfirmed,
    PasswordRefused,
    Throttled,
    Tokens,
)
from ..domain.errors import FieldError, Invalid, Unauthenticated, Unavailable
from ..services.accounts_port import IdentityProvider, TokenVerifier

_THROTTLED = {"TooManyRequestsException", "LimitExceededException", "TooManyFailedAttemptsException"}


def _code(exc) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _message(exc) -> str:
    return exc.response.get("Error", {}).get("Message", "")


class CognitoIdentity(IdentityProvider):
    def __init__(self, user_pool_id: str, client_id: str, *, region: str, endpoint_url: str | None = None):
        self.user_pool_id = user_pool_id
        self.client_id = client_id
        self.region = region
        self.endpoint_url = endpoint_url

    @cached_property
    def _client(self):
        import boto3

        return boto3.session.Session().client("cognito-idp", region_name=self.region, endpoint_url=self.endpoint_url)

    def _call(self, operation: str, **kwargs) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        if not self.user_pool_id or not self.client_id:
            raise Unavailable("customer accounts are not configured on this stage")
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            code = _code(exc)
            if code in _THROTTLED or (code == "NotAuthorizedException" and "attempts exceeded" in _message(exc)):
                raise Throttled("too many attempts; try again later") from None
            raise _Failed(code, _message(exc)) from exc
        except BotoCoreError as exc:
            raise Unavailable("the identity provider could not be reached") from exc

    def sign_up(self, email: str, password: str) -> tuple[str, bool]:
        try:
            out = self._call("sign_up", ClientId=self.client_id, Username=email, Password=password,
                             UserAttributes=[{"Name": "email", "Value": email}])
        except _Failed as exc:
            if exc.code == "UsernameExistsException":
                raise EmailTaken("an account with this email exists") from None
            if exc.code == "InvalidPasswordException" or (
                    exc.code == "InvalidParameterException" and "password" in exc.message.lower()):
                raise PasswordRefused("the password does not meet the policy: at least 10 characters, with "
                                      "upper and lower case letters and a digit",
                                      [FieldError("password", "does not meet the password policy")]) from None
            if exc.code == "InvalidParameterException":
                raise Invalid("the identity provider refused the email",
                              [FieldError("email", "not accepted as a username")]) from None
            raise exc.unavailable() from None
        return out["UserSub"], bool(out.get("UserConfirmed"))

    def confirm_now(self, email: str) -> None:
        try:
            self._call("admin_confirm_sign_up", UserPoolId=self.user_pool_id, Username=email)
        except _Failed as exc:
            raise exc.unavailable() from None

    def confirm(self, email: str, code: str) -> None:
        try:
            self._call("confirm_sign_up", ClientId=self.client_id, Username=email, ConfirmationCode=code)
        except _Failed as exc:
            if exc.code in ("CodeMismatchException", "ExpiredCodeException", "UserNotFoundException",
                            "NotAuthorizedException", "InvalidParameterException", "AliasExistsException"):
                raise CodeRefused("the code is wrong or expired, or the account is confirmed already",
                                  [FieldError("code", "not accepted")]) from None
            raise exc.unavailable() from None

    def sign_in(self, email: str, password: str) -> Tokens:
        try:
            out = self._call("initiate_auth", ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": email, "PASSWORD": password})
        except _Failed as exc:
            if exc.code in ("NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException",
                            "InvalidParameterException", "ResourceNotFoundException"):
                raise BadCredentials("wrong email or password") from None
            if exc.code == "UserNotConfirmedException":
                raise NotConfirmed("confirm the account with the emailed code first") from None
            raise exc.unavailable() from None
        if "AuthenticationResult" not in out:
            # A challenge (a new password, MFA) that this API does not carry out.
            raise Unauthenticated(f"the account needs {out.get('ChallengeName', 'an extra step')} first")
        return _tokens(out["AuthenticationResult"])

    def refresh(self, refresh_token: str) -> Tokens:
        try:
            out = self._call("initiate_auth", ClientId=self.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                             AuthParameters={"REFRESH_TOKEN": refresh_token})
        except _Failed as exc:
            if exc.code in ("NotAuthorizedException", "UserNotFoundException", "InvalidParameterException",
                            "ResourceNotFoundException"):
                raise Unauthenticated("the refresh token is invalid, expired or revoked") from None
            raise exc.unavailable() from None
        if "AuthenticationResult" not in out:
            raise Unauthenticated("the refresh token is invalid, expired or revoked")
        return _tokens(out["AuthenticationResult"], refresh_token)

    def delete_user(self, customer_id: str, email: str = "") -> None:
        # The pool takes the email (an alias of the username) as well as the username, which is the sub.
        for operation in ("admin_user_global_sign_out", "admin_delete_user"):
            try:
                self._call(operation, UserPoolId=self.user_pool_id, Username=email or customer_id)
            except _Failed as exc:
                if exc.code != "UserNotFoundException":
                    raise exc.unavailable() from None


# (bandit B107: the empty default means "none given", not a password.)
def _tokens(result: dict, refresh_token: str = "") -> Tokens:  # nosec B107
    return Tokens(id_token=result["IdToken"], access_token=result["AccessToken"],
                  refresh_token=result.get("RefreshToken") or refresh_token, expires_in=int(result["ExpiresIn"]))


class _Failed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def unavailable(self) -> Unavailable:
        return Unavailable(f"the identity provider failed ({self.code})")


# --- ID tokens ---------------------------------------------------------------------------------------

_jwks_lock = threading.Lock()
_jwks_clients: dict = {}


def jwks_client(url: str):
    """One client per JWKS URL per container: it caches the keys for an hour, and fetches them again when a
    token names a key it does not know (at most every 30 s, so forged kids cannot hammer the endpoint)."""
    from jwt import PyJWKClient

    with _jwks_lock:
        if url not in _jwks_clients:
            _jwks_clients[url] = PyJWKClient(url, cache_jwk_set=True, lifespan=3600, timeout=5,
                                             cooldown_duration=30)
        return _jwks_clients[url]


class CognitoTokenVerifier(TokenVerifier):
    """Checks an ID token as Cognito's documentation asks: RS256 signature by a key of the pool's JWKS,
    `iss` the pool, `aud` the app client, not expired, `token_use` "id"."""

    def __init__(self, *, issuer: str, audience: str, jwks, leeway: int = 0):
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks  # anything with PyJWKClient's get_signing_key(kid)
        self.leeway = leeway

    def verify(self, token: str) -> Identity:
        import jwt

        if not self.audience or not token or len(token) > 8192:
            raise Unauthenticated("invalid token")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
                raise Unauthenticated("invalid token: not signed by the user pool")
            key = self.jwks.get_signing_key(header["kid"])
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway,
                                options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]})
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable("the user pool's signing keys could not be fetched") from exc
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired; refresh it") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token") from None
        if claims.get("token_use") != "id":
            raise Unauthenticated("send the ID token, not the access token")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("invalid token")
        email = claims.get("email")
        return Identity(customer_id=sub, email=email if isinstance(email, str) else "")
