"""Hostile strings are stored and returned verbatim, and harm nothing."""

from __future__ import annotations

import pytest

from tests.conftest import example_request

INJECTIONS = [
    "'; DROP TABLE items; --",
    "\" OR 1=1 --",
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "line\r\nX-Injected: 1\r\n\r\nbody",
    "nul\u0000byte",
    "{{7*7}} ${7*7} %s %n",
    "𝕍𝕚𝕘𝕚𝕖 \u202e RTL \ufeff BOM",
    "../../../../etc/passwd",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_stored_and_returned_verbatim(stack, value):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    body = example_request(questions=[value], subject={"movement": value[:300]})
    resp = court.post("/v1/information-requests", body)
    assert resp.status_code == 201, resp.text
    assert "X-Injected" not in resp.headers
    item = resp.json()
    assert item["content"]["questions"] == [value]
    again = court.get(f"/v1/information-requests/{item['id']}").json()
    assert again["content"]["questions"] == [value]
    assert again["content"]["subject"]["movement"] == value[:300]
    entry = miviludes.wait_delivered(item["id"])
    assert entry["event"]["data"]["content"]["questions"] == [value]
    assert resp.headers["content-type"] == "application/json"
    # The tables are still there.
    assert court.get("/v1/information-requests", limit=1).status_code == 200


@pytest.mark.parametrize("raw", [b'{"a": "\xc0\xaf"}', b'{"a": "\xe0\x80\xaf"}',
                                 b'{"a": "\xed\xa0\x80"}'])
def test_overlong_and_surrogate_utf8_is_refused(stack, raw):
    resp = stack.api("tj-paris").post("/v1/information-requests", content=raw,
                                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert "UTF-8" in resp.json()["detail"]


def test_field_size_limits_hold_for_every_text(stack):
    body = example_request(questions=["q" * 4001] * 31)
    resp = stack.api("tj-paris").post("/v1/information-requests", body)
    assert resp.status_code in (413, 422)


@pytest.mark.parametrize("item_id", ["a%0Ab", "%0D%0Ax", "%7F", "a%09b"])
def test_control_characters_in_paths_are_refused(stack, item_id):
    resp = stack.api("miviludes").post(f"/v1/information-requests/{item_id}/declination",
                                       {"reason": "other", "explanation": "x"})
    assert resp.status_code == 400
    assert resp.json()["detail"] == "the path contains control characters"
