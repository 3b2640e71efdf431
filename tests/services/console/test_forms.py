"""Forms from the contract's schemas: what a person ticks and types becomes the body."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from services.console.forms import body_from, fields_of, values_of

SCHEMA = {
    "type": "object", "required": ["categories", "facts"],
    "properties": {
        "categories": {"type": "array", "items": {"type": "string",
                                                   "enum": ["health", "minors", "online"]}},
        "practices": {"type": "array", "items": {"type": "string"}},
        "facts": {"type": "string", "maxLength": 4000},
        "people": {"type": "array", "items": {"type": "object", "properties": {
            "role": {"type": "string", "enum": ["victim", "witness"]},
            "first_names": {"type": "array", "items": {"type": "string"}}}}},
    },
}


def test_a_list_of_choices_is_ticked_and_comes_back_as_a_list():
    fields = fields_of(SCHEMA)
    kinds = {f.name: f.kind for f in fields}
    assert kinds == {"categories": "choices", "practices": "lines", "facts": "textarea",
                     "people": "group"}
    assert fields[0].choices == ["health", "minors", "online"] and fields[0].required
    form = MultiDict([("categories", "health"), ("categories", "online"),
                      ("practices", "jeûne\n\n stages "), ("facts", " Des faits. "),
                      ("people.0.role", "victim"), ("people.0.first_names", "Anne\nMarie")])
    body = body_from(form, fields)
    assert body == {"categories": ["health", "online"], "practices": ["jeûne", "stages"],
                    "facts": "Des faits.",
                    "people": [{"role": "victim", "first_names": ["Anne", "Marie"]}]}
    # A draft fills the form again, the ticked choices included.
    assert values_of(body)["categories"] == "health\nonline"
    assert "categories" not in body_from(MultiDict([("facts", "x")]), fields)
