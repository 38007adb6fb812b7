"""What the host should do with a batch after its request: the SDK's retry policy
(`sdk-guest/src/http/retry.rs`), checked against the same cases,
`sdk-guest/testdata/http_retry_cases.json`, by `sdk-guest/tests/python_classifier.rs`.

- 2xx: delivered.
- 408, 429 and every 5xx but 501: retryable, after `Retry-After` when the server sent one.
- 3xx: fatal; wasi:http does not follow redirects and every later batch would hit it too.
- a status in `fatal_on_status` (401, 403 by default): fatal.
- any other status: the messages are bad data; they go to the dead-letter topic.
"""

import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Optional

RETRYABLE = "retryable"
INVALID = "invalid-data"
FATAL = "fatal"

QUOTED_BODY_BYTES = 512
MAX_RETRY_AFTER_MS = 600_000


@dataclass(frozen=True)
class Failure:
    kind: str
    message: str
    after_ms: Optional[int] = None


def is_retryable(status):
    return status in (408, 429) or (500 <= status <= 599 and status != 501)


def classify_response(request, status, headers, body, fatal_on_status, now=None):
    """`request` names it in messages (`POST https://h/x`); `headers` is a list of
    `(name, bytes)`. Returns `None` on success, else a `Failure`."""
    if 200 <= status < 300:
        return None
    what = f"{request} answered {status}"
    if is_retryable(status):
        after = retry_after_ms(header(headers, "retry-after"), now)
        return Failure(RETRYABLE, what, after)
    if 300 <= status < 400:
        target = header(headers, "location") or "?"
        return Failure(
            FATAL,
            f"{what}, a redirect to {target}: redirects are not followed, "
            "point `url` at the final address",
        )
    detail = f"{what}: {quote(body)}"
    return Failure(FATAL if status in fatal_on_status else INVALID, detail)


def header(headers, name):
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def retry_after_ms(value, now=None):
    """`Retry-After` as delta seconds or an HTTP date, in ms, capped; `None` if unusable."""
    if value is None:
        return None
    value = value.strip()
    # ASCII only: `isdigit` also takes digits like "²" that `int` refuses.
    if value.isascii() and value.isdigit():
        ms = int(value) * 1000
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        # HTTP dates are GMT; an asctime date carries no zone and must not read as local time.
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        when = when.timestamp()
        ms = max(0, int((when - (time.time() if now is None else now)) * 1000))
    return min(ms, MAX_RETRY_AFTER_MS)


def quote(body):
    """The start of a response body, for an error message."""
    text = body[:QUOTED_BODY_BYTES].decode("utf-8", "replace").strip()
    if not text:
        return "(empty body)"
    return text + "…" if len(body) > QUOTED_BODY_BYTES else text
