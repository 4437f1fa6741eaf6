"""API layer: how each provider webhook proves where it came from (no Kairos API keys here).

- radar: `X-Radar-Signature` = hex HMAC-SHA1 of the `X-Radar-Signing-Id` header, keyed with the
  webhook's security token (older Radar webhooks sign the (first) event `_id` instead and send no
  signing id). It does NOT cover the body: it shows the sender knew the token, nothing more.
- aws-location, azure-maps: a shared token in a header (`KAIROS_WEBHOOK_TOKEN_HEADER`, set as an
  EventBridge API-destination "API key" or an Event Grid delivery property) or in the `token` query
  parameter of the endpoint URL. It proves knowledge of the token; it does not cover the body.
- kairos (generic): `X-Kairos-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with
  `X-Kairos-Timestamp: <unix seconds>` (ASCII digits; the MAC covers the header exactly as sent);
  refused outside ±KAIROS_WEBHOOK_TOLERANCE_S, so a captured request cannot be replayed later, and
  any change to the body breaks the signature.

Every comparison is constant time (`hmac.compare_digest`); several secrets may be configured at
once (one per line of the secret file) so a rotation loses no delivery. Secrets are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from service.settings import ENV_PREFIX, Settings, SettingsError

PROVIDERS = ("radar", "aws-location", "azure-maps", "kairos")
_SETTING = {"radar": "webhook_radar_token", "aws-location": "webhook_aws_location_token",
            "azure-maps": "webhook_azure_maps_token", "kairos": "webhook_kairos_secret"}
MAX_SIGNATURE_HEADER = 1024
_ASCII_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The request does not prove it came from the provider; `reason` is the metric label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class WebhookSecrets:
    """Per provider, the secrets it may sign with (empty tuple: that webhook is off)."""

    secrets: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict, repr=False)
    token_header: str = "X-Kairos-Webhook-Token"
    tolerance_s: float = 300.0

    def enabled(self, provider: str) -> bool:
        return bool(self.secrets.get(provider))


def load_webhook_secrets(settings: Settings) -> WebhookSecrets:
    """Reads every configured secret at start; an unreadable or empty file stops Kairos with its name."""
    found: dict[str, tuple[bytes, ...]] = {}
    for provider, name in _SETTING.items():
        path: Path | None = getattr(settings, name + "_file")
        value: str = getattr(settings, name)
        if path is not None:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(f"{ENV_PREFIX}{name.upper()}_FILE={path}: cannot be read ({exc})") from None
            secrets = tuple(line.strip().encode() for line in lines if line.strip())
            if not secrets:
                raise SettingsError(f"{ENV_PREFIX}{name.upper()}_FILE={path}: holds no secret")
            found[provider] = secrets
        elif value:
            found[provider] = (value.encode(),)
    return WebhookSecrets(found, settings.webhook_token_header, settings.webhook_tolerance_s)


def _equal_any(candidates: tuple[bytes, ...], compute: Callable[[bytes], str], given: str) -> bool:
    given_b = given.strip().lower().encode()
    # Every secret is tried (no early exit), so timing does not say which one matched.
    matched = False
    for secret in candidates:
        matched |= hmac.compare_digest(compute(secret).encode(), given_b)
    return matched


def verify_radar(secrets: tuple[bytes, ...], headers: Mapping[str, str], legacy_ids: list[str]) -> None:
    signature = headers.get("X-Radar-Signature")
    if not signature:
        raise SignatureError("missing", "X-Radar-Signature is missing")
    if len(signature) > MAX_SIGNATURE_HEADER:
        raise SignatureError("invalid", "X-Radar-Signature is not a valid signature")
    signing_id = headers.get("X-Radar-Signing-Id")
    signed = [signing_id] if signing_id else legacy_ids
    for text in signed:
        def sign(secret: bytes, message: bytes = text.encode()) -> str:
            return hmac.new(secret, message, hashlib.sha1).hexdigest()

        if _equal_any(secrets, sign, signature):
            return
    raise SignatureError("invalid", "X-Radar-Signature does not match the configured Radar webhook token")


def verify_token(secrets: tuple[bytes, ...], headers: Mapping[str, str], query: Mapping[str, str],
                 header_name: str) -> None:
    given = headers.get(header_name) or query.get("token")
    if not given:
        raise SignatureError("missing", f"no webhook token: send it in the {header_name} header")
    if len(given) > MAX_SIGNATURE_HEADER or not _equal_any(
            secrets, lambda s: hashlib.sha256(s).hexdigest(), hashlib.sha256(given.encode()).hexdigest()):
        raise SignatureError("invalid", "the webhook token does not match the configured one")


def sign_kairos(secret: bytes, timestamp: int | str, body: bytes) -> str:
    """The X-Kairos-Signature header value for a body sent with `X-Kairos-Timestamp: <timestamp>`.
    The MAC covers the header's text exactly as sent, so "0<ts>" and "<ts>" are different requests."""
    return "v1=" + hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_kairos(secrets: tuple[bytes, ...], headers: Mapping[str, str], body: bytes, now_s: float,
                  tolerance_s: float) -> None:
    stamp, signature = headers.get("X-Kairos-Timestamp"), headers.get("X-Kairos-Signature")
    if not stamp or not signature:
        raise SignatureError("missing", "X-Kairos-Timestamp and X-Kairos-Signature are required")
    # ASCII digits only: str.isdigit() and int() also take other scripts' digits ("١٨٠٠…"), which
    # would let one number be sent as many different headers.
    if not _ASCII_SECONDS.fullmatch(stamp) or len(signature) > MAX_SIGNATURE_HEADER:
        raise SignatureError("invalid", "X-Kairos-Timestamp must be whole Unix seconds in ASCII digits (0-9)")
    timestamp_s = int(stamp)
    if not math.isfinite(now_s) or abs(now_s - timestamp_s) > tolerance_s:
        raise SignatureError("expired", f"X-Kairos-Timestamp is more than {tolerance_s:g} s from Kairos's clock: "
                             "sign each request when you send it")
    offered = [part.strip()[3:] for part in signature.split(",") if part.strip().startswith("v1=")]
    for value in offered:
        if _equal_any(secrets, lambda s: sign_kairos(s, stamp, body)[3:], value):
            return
    raise SignatureError("invalid", "X-Kairos-Signature does not match the body and timestamp")
