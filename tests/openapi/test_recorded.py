"""The comparison that keeps the recorded examples honest (tests/openapi/recorded.py)."""

from __future__ import annotations

from tests.openapi.recorded import differences, scrub


def test_the_same_shape_has_no_differences():
    example = {"id": "a", "n": 1, "ok": True, "tags": ["x"], "at": None}
    assert differences(example, {"id": "b", "n": 2.5, "ok": False, "tags": ["y", "z"],
                                 "at": "2026-12-06T00:00:00Z"}) == []


def test_missing_extra_and_retyped_fields_are_named():
    found = differences({"id": "a", "gone": 1, "n": 1, "inner": {"k": "v"}},
                        {"id": "a", "new": 1, "n": "1", "inner": {"k": 2}})
    assert sorted(found) == ["$.gone: in the example, not in the answer",
                             "$.inner.k: str in the example, number in the answer",
                             "$.n: number in the example, str in the answer",
                             "$.new: in the answer, not in the example"]


def test_lists_are_compared_by_their_first_element_and_emptiness():
    assert differences({"l": [{"a": 1}]}, {"l": [{"b": 1}]}) == [
        "$.l[0].a: in the example, not in the answer",
        "$.l[0].b: in the answer, not in the example"]
    assert differences({"l": []}, {"l": [1]}) == [
        "$.l: empty in the example, a list in the answer"]


def test_a_field_sent_only_sometimes_may_be_there_or_not():
    """Who sent an earlier notice for the same URL is told only to that sender."""
    with_it = {"content": {"duplicate_of": "x", "duplicate_of_sender": "miviludes"}}
    without = {"content": {"duplicate_of": None}}
    assert differences(with_it, without) == []
    assert differences(without, with_it) == []


def test_credentials_never_reach_an_example():
    answer = {"access_token": "eyJreal", "client_secret": "real", "secret": "whsec_real",
              "items": [1, 2, 3, 4]}
    example = scrub(answer)
    assert "real" not in str(example)
    assert example["secret"].startswith("whsec_") and len(example["items"]) == 2
