"""Core layer: RFC 3339 text <-> integer epoch milliseconds, exact and clock-free."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

# RFC 3339 §5.6 date-time. The offset is mandatory; "T"/"Z" may be lower case (§5.6 NOTE).
# A leap second (":60") is accepted and lands on the following second, as POSIX time does.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339_ms(text: str) -> int:
    """Return epoch milliseconds for an RFC 3339 timestamp with an explicit offset.

    Fractions finer than a millisecond are truncated (toward the past). Raises ValueError
    when the text is not RFC 3339, has no offset, or names an impossible date or time.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp with offset: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(f"time of day out of range: {text!r}")
    days = date(year, month, day).toordinal() - _EPOCH_ORDINAL  # raises for e.g. Feb 30
    frac = match.group(7) or ""
    millis = int((frac + "00")[:3])
    offset_s = 0
    if match.group(8) is None:
        off_h, off_m = int(match.group(10)), int(match.group(11))
        if off_h > 23 or off_m > 59:
            raise ValueError(f"offset out of range: {text!r}")
        offset_s = (off_h * 3600 + off_m * 60) * (1 if match.group(9) == "+" else -1)
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s
    return seconds * 1000 + millis


def format_rfc3339_ms(ms: int) -> str:
    """Format epoch milliseconds as UTC RFC 3339 with millisecond precision and "Z".

    Raises ValueError outside years 0001..9999.
    """
    # The text up to the second is remembered per second: decisions and events stamp many times
    # within the same second, and the datetime arithmetic and formatting was most of the cost.
    if type(ms) is not int:  # e.g. a float: the general path, as before
        return _format(ms)
    seconds, millis = divmod(ms, 1000)
    try:
        return f"{_up_to_second(seconds)}.{millis:03d}Z"
    except OverflowError as exc:
        raise ValueError(f"epoch ms out of range: {ms}") from exc


def _format(ms: float) -> str:
    try:
        moment = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError as exc:
        raise ValueError(f"epoch ms out of range: {ms}") from exc
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


@lru_cache(maxsize=4096)
def _up_to_second(seconds: int) -> str:
    moment = _EPOCH + timedelta(seconds=seconds)  # OverflowError outside years 0001..9999
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
