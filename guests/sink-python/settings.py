"""The connector's `[config]` table, checked once in `open`; every error names its key."""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_TIMEOUT_MS = 10_000
# Bad credentials would otherwise dead-letter the whole stream, one batch at a time.
DEFAULT_FATAL_ON_STATUS = (401, 403)
KNOWN_KEYS = {"url", "headers", "timeout_ms", "fatal_on_status", "transform"}


class ConfigError(ValueError):
    """A `[config]` value the sink cannot work with."""


@dataclass(frozen=True)
class Target:
    """Where requests go, split the way `wasi:http` wants it."""

    url: str
    https: bool
    authority: str
    path_with_query: str


@dataclass(frozen=True)
class Settings:
    target: Target
    headers: dict = field(default_factory=dict)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    fatal_on_status: tuple = DEFAULT_FATAL_ON_STATUS
    transform: dict = field(default_factory=dict)


def parse_url(url):
    if not isinstance(url, str) or not url:
        raise ConfigError("`url` is required: the endpoint batches are POSTed to")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError as e:
        raise ConfigError(f"`url` {url!r} is not a URL: {e}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"`url` {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ConfigError(f"`url` {url!r} has no host")
    if parts.username or parts.password:
        raise ConfigError("`url` must not carry credentials: use `headers`")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url, parts.scheme == "https", parts.netloc, path)


def parse(config):
    """`config` is the `[config]` table as a dict."""
    if not isinstance(config, dict):
        raise ConfigError("[config] must be a table")
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"unknown key `{unknown[0]}` (known: {', '.join(sorted(KNOWN_KEYS))})")

    headers = config.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError("`headers` must be a table of strings")
    if not any(k.lower() == "content-type" for k in headers):
        headers = {"content-type": "application/json", **headers}

    timeout_ms = config.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    # bool is an int in Python; `timeout_ms = true` is a mistake, not 1 ms.
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ConfigError("`timeout_ms` must be a positive integer")

    fatal = config.get("fatal_on_status", list(DEFAULT_FATAL_ON_STATUS))
    if not isinstance(fatal, list) or not all(
        isinstance(s, int) and 100 <= s <= 599 for s in fatal
    ):
        raise ConfigError("`fatal_on_status` must be a list of HTTP statuses")

    options = config.get("transform", {})
    if not isinstance(options, dict):
        raise ConfigError("`transform` must be a table")

    return Settings(parse_url(config.get("url")), headers, timeout_ms, tuple(fatal), options)
