"""Provider webhook authentication: Radar's signature, shared tokens, the signed generic format."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from service.api.webhook_auth import SignatureError, sign_kairos, verify_kairos, verify_radar, verify_token

TOKEN = b"radar-webhook-token"


def radar_signature(text: str, token: bytes = TOKEN) -> str:
    return hmac.new(token, text.encode(), hashlib.sha1).hexdigest()


def test_radar_signs_the_signing_id_with_the_token() -> None:
    verify_radar((TOKEN,), {"X-Radar-Signing-Id": "sig-123", "X-Radar-Signature": radar_signature("sig-123")}, [])
    # Rotation: either configured token is accepted.
    verify_radar((b"old", TOKEN), {"X-Radar-Signing-Id": "s", "X-Radar-Signature": radar_signature("s")}, [])
    with pytest.raises(SignatureError) as err:
        verify_radar((TOKEN,), {"X-Radar-Signing-Id": "s", "X-Radar-Signature": radar_signature("s", b"x")}, [])
    assert err.value.reason == "invalid"
    with pytest.raises(SignatureError) as err:
        verify_radar((TOKEN,), {"X-Radar-Signing-Id": "s"}, [])
    assert err.value.reason == "missing"


def test_radar_legacy_signature_of_the_first_event_id() -> None:
    verify_radar((TOKEN,), {"X-Radar-Signature": radar_signature("5dcee0e67e71e80027a7eec3")},
                 ["5dcee0e67e71e80027a7eec3"])
    with pytest.raises(SignatureError):
        verify_radar((TOKEN,), {"X-Radar-Signature": radar_signature("other")}, ["5dcee0e67e71e80027a7eec3"])


def test_shared_token_in_header_or_query() -> None:
    verify_token((b"t0ken",), {"X-Kairos-Webhook-Token": "t0ken"}, {}, "X-Kairos-Webhook-Token")
    verify_token((b"t0ken",), {}, {"token": "t0ken"}, "X-Kairos-Webhook-Token")
    for headers in ({"X-Kairos-Webhook-Token": "wrong"}, {}):
        with pytest.raises(SignatureError):
            verify_token((b"t0ken",), headers, {}, "X-Kairos-Webhook-Token")


def test_generic_signature_covers_timestamp_and_body_within_the_window() -> None:
    body, secret, now = b'[{"event_id":"e1"}]', b"s3cret", 1_800_000_000
    good = {"X-Kairos-Timestamp": str(now), "X-Kairos-Signature": sign_kairos(secret, now, body)}
    assert good["X-Kairos-Signature"] == "v1=" + hmac.new(secret, f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    verify_kairos((secret,), good, body, now + 299.0, 300.0)
    with pytest.raises(SignatureError) as err:  # a captured request replayed later
        verify_kairos((secret,), good, body, now + 301.0, 300.0)
    assert err.value.reason == "expired"
    with pytest.raises(SignatureError) as err:  # the body changed
        verify_kairos((secret,), good, body + b" ", now, 300.0)
    assert err.value.reason == "invalid"
    rotated = {**good, "X-Kairos-Signature": f"v1=00ff, {good['X-Kairos-Signature']}"}
    verify_kairos((secret,), rotated, body, now, 300.0)
    with pytest.raises(SignatureError):
        verify_kairos((secret,), {**good, "X-Kairos-Timestamp": "12e3"}, body, now, 300.0)


def test_generic_signature_covers_the_timestamp_header_exactly_as_sent() -> None:
    body, secret, now = b'[{"event_id":"e1"}]', b"s3cret", 1_800_000_000

    def mac(stamp: str) -> str:
        return "v1=" + hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()

    # "0<ts>" is another header than "<ts>": a signature over "<ts>." does not cover it
    with pytest.raises(SignatureError) as err:
        verify_kairos((secret,), {"X-Kairos-Timestamp": f"0{now}", "X-Kairos-Signature": mac(str(now))},
                      body, now, 300.0)
    assert (err.value.reason, err.value.message) == ("invalid", "X-Kairos-Signature does not match the body and "
                                                                "timestamp")
    # signed over exactly the bytes sent, it is that sender's valid request
    verify_kairos((secret,), {"X-Kairos-Timestamp": f"0{now}", "X-Kairos-Signature": mac(f"0{now}")}, body, now, 300.0)
    assert sign_kairos(secret, f"0{now}", body) == mac(f"0{now}")


@pytest.mark.parametrize("stamp", ["١٨٠٠٠٠٠٠٠٠", "1800000000 ", "+1800000000", "１８００００００００", ""])
def test_generic_timestamp_is_ascii_digits_only(stamp: str) -> None:
    body, secret, now = b"[]", b"s3cret", 1_800_000_000
    signature = "v1=" + hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError) as err:
        verify_kairos((secret,), {"X-Kairos-Timestamp": stamp, "X-Kairos-Signature": signature}, body, now, 300.0)
    expected = ("missing", "X-Kairos-Timestamp and X-Kairos-Signature are required") if not stamp else (
        "invalid", "X-Kairos-Timestamp must be whole Unix seconds in ASCII digits (0-9)")
    assert (err.value.reason, err.value.message) == expected
