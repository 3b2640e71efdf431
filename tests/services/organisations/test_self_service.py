"""A client rotates its own secret without downtime: a second one valid beside the
first, then the first revoked — against the real token endpoint, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from services.audit.models import AuditEntry
from services.organisations import service as organisations


def _token(stack, client_id: str, secret: str):
    return stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, secret))


def test_a_client_rotates_its_secret_without_downtime(stack):
    with stack.hub.db.transaction() as session:
        client, first = organisations.add_client(session, "dgs")
        client_id = client.client_id
    token = _token(stack, client_id, first).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    listed = stack.http.get("/v1/clients/self/secrets", headers=headers).json()
    assert listed["max"] == 2 and len(listed["items"]) == 1
    first_id = listed["items"][0]["id"]

    added = stack.http.post("/v1/clients/self/secrets", headers=headers)
    assert added.status_code == 201, added.text
    second, second_id = added.json()["secret"], added.json()["id"]
    assert added.headers["location"] == f"/v1/clients/self/secrets/{second_id}"
    # Both valid while the new one is deployed; a third refused.
    assert _token(stack, client_id, first).status_code == 200
    assert _token(stack, client_id, second).status_code == 200
    third = stack.http.post("/v1/clients/self/secrets", headers=headers)
    assert third.status_code == 409 and third.headers["content-type"].startswith(
        "application/problem+json")
    listed = stack.http.get("/v1/clients/self/secrets", headers=headers).json()
    assert [s["id"] for s in listed["items"]] == [first_id, second_id]
    assert all("secret" not in s for s in listed["items"])

    assert stack.http.delete(f"/v1/clients/self/secrets/{first_id}",
                             headers=headers).status_code == 204
    assert _token(stack, client_id, first).status_code == 401
    assert _token(stack, client_id, second).status_code == 200
    # Never the last one; nobody else's; nothing that is not an id.
    last = stack.http.delete(f"/v1/clients/self/secrets/{second_id}", headers=headers)
    assert last.status_code == 409
    other = stack.api("tj-paris")
    assert stack.http.delete(f"/v1/clients/self/secrets/{second_id}",
                             headers=other.headers).status_code == 404
    assert stack.http.delete("/v1/clients/self/secrets/1", headers=headers).status_code == 400
    assert _token(stack, client_id, second).status_code == 200
    with stack.hub.db.sessions() as session:
        audited = session.scalars(select(AuditEntry).where(
            AuditEntry.client_id == client_id,
            AuditEntry.object.like("/v1/clients/self/secrets%"))).all()
    assert {(e.action.split()[0], e.outcome) for e in audited} >= {
        ("POST", 201), ("POST", 409), ("DELETE", 204), ("DELETE", 409)}
    assert all("secret" not in e.object.removeprefix("/v1/clients/self/secrets")
               for e in audited)


def test_the_operators_renewal_leaves_a_single_secret(stack):
    with stack.hub.db.transaction() as session:
        client, first = organisations.add_client(session, "dgs")
        client_id = client.client_id
    token = _token(stack, client_id, first).json()["access_token"]
    added = stack.http.post("/v1/clients/self/secrets",
                            headers={"Authorization": f"Bearer {token}"}).json()["secret"]
    with stack.hub.db.transaction() as session:
        renewed = organisations.rotate_secret(session, client_id)
    assert _token(stack, client_id, first).status_code == 401
    assert _token(stack, client_id, added).status_code == 401
    assert _token(stack, client_id, renewed).status_code == 200
