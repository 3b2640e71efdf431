"""Pure rules of the new exchanges: pseudonymisation and the courts table."""

from __future__ import annotations

from pathlib import Path

from services.offence_reports.courts import Courts
from services.signalements.rules import pseudonymise
from tests.conftest import example_signalement


def test_pseudonymise_keeps_roles_and_puts_identities_apart():
    content, identities = pseudonymise(example_signalement(received_on="2025-07-08"))
    assert content["people"] == [
        {"ref": "P1", "role": "victim", "minor": True},
        {"ref": "P2", "role": "alleged_author", "profession": "PHARMACIENS"}]
    assert identities["P2"] == {"last_name": "Garnier", "first_names": ["Serge"]}
    assert "Roux" not in str(content)


def test_a_person_is_a_minor_until_their_eighteenth_birthday():
    for received, minor in (("2028-07-07", True), ("2028-07-08", False)):
        content, _ = pseudonymise(example_signalement(received_on=received))
        assert content["people"][0]["minor"] is minor, received


def test_courts_table(tmp_path: Path):
    table = tmp_path / "courts.yaml"
    table.write_text('departments: {"13": TJ-MARSEILLE, "974": TJ-SAINT-DENIS}\n'
                     'communes: {"13001": TJ-AIX-EN-PROVENCE}\n')
    courts = Courts.load(table)
    assert courts.jurisdiction("13055") == "TJ-MARSEILLE"
    assert courts.jurisdiction("13001") == "TJ-AIX-EN-PROVENCE"
    assert courts.jurisdiction("97411") == "TJ-SAINT-DENIS"
    assert courts.jurisdiction("2A004") is None
