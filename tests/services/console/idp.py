"""Signing in through the real identity provider's pages, as a browser would (its forms,
its cookies, the TOTP code of a signatory), for the console's Flask-level tests."""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import struct
import time
from urllib.parse import urlsplit

import httpx


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 6 digits, 30 s), over the secret's bytes as Keycloak keeps it."""
    counter = int((time.time() if at is None else at) // 30)
    mac = hmac.new(secret.encode(), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 15
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def fresh_totp(secret: str) -> str:
    """A code good for a few seconds more (one about to expire is waited out)."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30 + 0.2)
    return totp(secret)


def _form_action(page: str) -> str:
    match = re.search(r'<form[^>]*action="([^"]+)"', page)
    assert match, "the identity provider's page has no form"
    return html.unescape(match[1])


class IdentityProviderBrowser:
    """The IdP's side of a browser: keeps its cookies (Secure ones too, over loopback
    HTTP, as Chromium does for 127.0.0.1)."""

    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=30)

    def _cookies(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)}

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url, headers=self._cookies())

    def post(self, url: str, data: dict) -> httpx.Response:
        return self.http.post(url, data=data, headers=self._cookies())


def sign_in(console, agent: dict, otp: bool = True, idp: IdentityProviderBrowser | None = None):
    """Sign `agent` (an entry of dev-agents.json) in to the console served by `console`
    (an HTTP client of the hub); returns the callback's answer."""
    idp = idp or IdentityProviderBrowser()
    start = console.get("/console/login")
    assert start.status_code == 302, start.text
    page = idp.get(start.headers["location"])
    assert page.status_code == 200, page.text[:300]
    answer = idp.post(_form_action(page.text), {"username": agent["username"],
                                                 "password": agent["password"]})
    if answer.status_code == 200 and 'name="otp"' in answer.text:
        if not otp:
            return answer
        answer = idp.post(_form_action(answer.text), {"otp": fresh_totp(agent["totp_secret"])})
    assert answer.status_code == 302, answer.text[:500]
    target = urlsplit(answer.headers["location"])
    return console.get(f"{target.path}?{target.query}")
