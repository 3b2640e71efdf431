"""URLs in exchanges: only http(s), normalised so that the same content has one key."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def url_problem(url: str) -> str | None:
    """Why a URL is refused, or None."""
    scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
    if scheme in ("javascript", "data", "vbscript", "file"):
        return f"{scheme}: URLs are refused; give the http(s) address of the content"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() not in DEFAULT_PORTS:
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    if port == 0:
        return "is not a valid URL"
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        return "has an invalid host name"
    if any(c.isspace() for c in url):
        return "must not contain spaces"
    return None


def normalise(url: str) -> str:
    """Lower-case scheme and host (IDNA), no default port, no fragment, path at least /."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname.encode("idna").decode("ascii").lower().rstrip(".")
    if parts.port and parts.port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{parts.port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))
