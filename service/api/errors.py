"""The API's small exception tree, mapped to HTTP status and a JSON error body in one place."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A client-visible error: `status`, a stable `code` and an actionable `message`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            err["details"] = self.details
        return {"error": err}


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class InvalidJson(ApiError):
    status, code = 400, "invalid_json"


class NotFound(ApiError):
    status, code = 404, "not_found"


class RequestTimeout(ApiError):
    status, code = 408, "request_timeout"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


def clip(text: str, limit: int = 80) -> str:
    """A client-supplied value cut to at most `limit` characters before it is echoed back."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
