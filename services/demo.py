"""Demo organisations and clients (at least two of each recipient type), and a walk
through each exchange against the running hub (`vigie demo [--exchange NAME]`)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import httpx
from sqlalchemy.orm import Session

from .organisations.models import Organisation
from .organisations.service import (
    add_client,
    add_organisation,
    set_flagger_status,
    update_organisation,
)

DEMO_ORGS = [
    ("tj-paris", "court", "Tribunal judiciaire de Paris", None, None),
    ("tj-lyon", "court", "Tribunal judiciaire de Lyon", None, None),
    ("pr-paris", "prosecution", "Parquet de Paris", None, None),
    ("pr-marseille", "prosecution", "Parquet de Marseille", None, None),
    ("miviludes", "state_service",
     "Mission interministérielle de vigilance et de lutte contre les dérives sectaires",
     None, None),
    ("dgs", "state_service", "Direction générale de la santé", None, None),
    ("cnom", "health_order", "Conseil national de l'ordre des médecins", "MEDECINS", None),
    ("cnoi", "health_order", "Conseil national de l'ordre des infirmiers", "INFIRMIERS", None),
    ("cnop", "health_order", "Conseil national de l'ordre des pharmaciens", "PHARMACIENS", None),
    ("plateforme-alpha", "platform", "Plateforme Alpha", None, "Alpha Europe SAS"),
    ("plateforme-beta", "platform", "Plateforme Beta", None, "Beta Ireland Ltd"),
    ("arcom", "regulator", "Autorité de régulation de la communication audiovisuelle et numérique",
     None, None),
    ("vigilance-alpha", "trusted_flagger", "Association Vigilance Alpha (fictive)", None, None),
    ("vigilance-beta", "trusted_flagger", "Association Vigilance Beta (fictive)", None, None),
    ("exploitation", "operator", "Exploitation Vigie", None, None),
    ("ars-paca", "state_service",
     "Agence régionale de santé Provence-Alpes-Côte d'Azur (référent dérives sectaires)",
     None, None),
    ("asso-entraide-sud", "association", "Association Entraide Victimes Sud (fictive)",
     None, None),
    ("asso-vigilance-nord", "association", "Association Vigilance Nord (fictive)",
     None, None),
]
# The demo trusted flaggers are fictitious; their awards, as a coordinator would decide.
DEMO_FLAGGERS = {
    "vigilance-alpha": (["dangerous_health_practice", "illegal_practice_of_medicine",
                         "psychological_subjection"], "ARCOM décision fictive n° DEMO-1"),
    "vigilance-beta": (["fraud", "psychological_subjection"], "ARCOM décision fictive n° DEMO-2"),
}
# The jurisdiction each demo court or prosecution office acts for: what it may declare.
DEMO_JURISDICTIONS = {
    "tj-paris": ("TJ-PARIS", "Tribunal judiciaire de Paris"),
    "tj-lyon": ("TJ-LYON", "Tribunal judiciaire de Lyon"),
    "pr-paris": ("TJ-PARIS", "Tribunal judiciaire de Paris"),
    "pr-marseille": ("TJ-MARSEILLE", "Tribunal judiciaire de Marseille"),
}


def seed(session: Session, clients_file: Path) -> list[dict]:
    """Create the demo organisations once, and one client each; writes the credentials."""
    for org_id, (code, name) in DEMO_JURISDICTIONS.items():
        org = session.get(Organisation, org_id)
        if org is not None and org.jurisdiction is None:  # registered before 0009
            update_organisation(session, org_id, jurisdiction=code, jurisdiction_name=name)
    if clients_file.exists():
        existing = json.loads(clients_file.read_text())
        if existing and all(session.get(Organisation, c["org_id"]) for c in existing):
            return existing
    out = []
    for org_id, org_type, name, profession, legal_entity in DEMO_ORGS:
        code, court = DEMO_JURISDICTIONS.get(org_id, (None, None))
        org = session.get(Organisation, org_id)
        if org is None:
            org = add_organisation(session, org_id, org_type, name, profession,
                                   legal_entity, code, court)
            if org_id in DEMO_FLAGGERS:
                areas, decision = DEMO_FLAGGERS[org_id]
                set_flagger_status(session, org_id, "awarded", areas, date(2024, 6, 1),
                                   decision, frozenset(areas))
        client_id = f"{org_id}-demo-{uuid.uuid4().hex[:6]}"
        client, secret = add_client(session, org.id, client_id=client_id)
        out.append({"org_id": org.id, "org_type": org.type, "client_id": client.client_id,
                    "client_secret": secret, "scopes": sorted(client.scope_set)})
    # Secrets: readable by the owner only.
    clients_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    clients_file.touch(mode=0o600)
    clients_file.chmod(0o600)
    clients_file.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    clients_file.chmod(0o600)
    return out


class DemoClient:
    """An organisation's system as the API sees it: its own token, its own requests.
    `http` replaces the connection (an in-process one, in tests)."""

    def __init__(self, base_url: str, creds: dict, http: httpx.Client | None = None):
        self.creds = creds
        self.http = http or httpx.Client(base_url=base_url, timeout=10)
        resp = self.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(creds["client_id"], creds["client_secret"]))
        resp.raise_for_status()
        # Sent with each request, never set on the connection (which may be shared).
        self.auth = {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def post(self, path: str, body: dict) -> dict:
        resp = self.http.post(path, json=body, headers={
            **self.auth, "Idempotency-Key": str(uuid.uuid4())})
        if resp.status_code >= 300:
            raise RuntimeError(f"POST {path}: {resp.status_code} {resp.text}")
        return resp.json()

    def upload(self, content: bytes, media_type: str, title: str) -> dict:
        resp = self.http.post("/v1/documents", content=content, params={"title": title},
                              headers={**self.auth, "Idempotency-Key": str(uuid.uuid4()),
                                       "Content-Type": media_type})
        if resp.status_code >= 300:
            raise RuntimeError(f"POST /v1/documents: {resp.status_code} {resp.text}")
        return resp.json()

    def request(self, method: str, path: str, headers: dict | None = None,
                **kwargs) -> httpx.Response:
        """A request as is (its status is the caller's to read)."""
        return self.http.request(method, path, headers={**self.auth, **(headers or {})},
                                 **kwargs)

    def get(self, path: str, **params) -> dict:
        resp = self.http.get(path, params=params, headers=self.auth)
        resp.raise_for_status()
        return resp.json()

    def wait_feed(self, item_id: str, event: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        after = "0"
        while time.monotonic() < deadline:
            page = self.get("/v1/feed", after=after)
            for entry in page["items"]:
                ev = entry["event"]
                if ev["subject"] == item_id and ev["type"].endswith("." + event):
                    return entry
            after = page["next"]
            time.sleep(0.2)
        raise TimeoutError(f"{event} for {item_id} not in the feed after {timeout}s")


def run_demo(base_url: str, clients_file: Path, say=print,
             exchange: str | None = None) -> None:
    """Play every exchange in turn, or only `exchange`."""
    creds = {c["org_id"]: c for c in json.loads(clients_file.read_text())}
    for name, scene in SCENES.items():
        if exchange in (None, name):
            say(f"— {name}")
            scene(base_url, creds, say)


def run_information_request(base_url: str, creds: dict, say=print) -> None:
    """The courts' walk-through, written with the client generated from the contract
    (`make client`): what a court's or a service's Python integration looks like."""
    from vigie_client import AuthenticatedClient, Client
    from vigie_client.api.information_requests import (
        information_requests_acknowledgement,
        information_requests_answer,
        information_requests_read,
        information_requests_submit,
    )
    from vigie_client.api.oauth import oauth_token
    from vigie_client.models import (
        Acknowledgement,
        Answer,
        InformationRequestSubmission,
        TokenRequest,
        TokenResponse,
    )

    def login(org_id: str) -> AuthenticatedClient:
        c = creds[org_id]
        token = oauth_token.sync(client=Client(base_url=base_url), body=TokenRequest.from_dict(
            {"grant_type": "client_credentials", "client_id": c["client_id"],
             "client_secret": c["client_secret"]}))
        if not isinstance(token, TokenResponse):
            raise RuntimeError(f"{org_id} could not log in")
        return AuthenticatedClient(base_url=base_url, token=token.access_token, timeout=10)

    def created(response):
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code} {response.content.decode()}")
        return response.parsed

    court, miviludes = login("tj-paris"), login("miviludes")
    request = InformationRequestSubmission.from_dict({
        "recipient": "miviludes",
        "requesting_authority": {"court_code": "TJ-PARIS", "magistrate_role": "juge_instruction",
                                 "court_name": "Tribunal judiciaire de Paris"},
        "case_references": {"parquet_number": "24123000456", "instruction_number": "JI-2024-0178",
                            "prosecution_stage": "information_judiciaire"},
        "prosecuted_offence": {"qualification": "abus_frauduleux_sujetion",
                               "legal_reference": "art. 223-15-3 CP"},
        "subject": {"movement": "Cercle de l'Éveil Intérieur",
                    "practices": ["stages de jeûne prolongé"]},
        "questions": ["Le mouvement est-il connu de vos services, et depuis quand ?"],
        "due_date": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400)),
    })
    item = created(information_requests_submit.sync_detailed(
        client=court, body=request, idempotency_key=str(uuid.uuid4())))
    say(f"1. tj-paris submitted request {item.id} to miviludes: {item.status}")
    entry = _typed_feed_entry(miviludes, item.id, "submitted")
    say(f"2. delivered to miviludes' feed at {entry.delivered_at.isoformat()} "
        f"(cursor {entry.cursor})")
    ack = created(information_requests_acknowledgement.sync_detailed(
        item.id, client=miviludes, body=Acknowledgement(reference="MIV-DEMO-1"),
        idempotency_key=str(uuid.uuid4())))
    say(f"3. miviludes acknowledged: {ack.status}")
    answer = created(information_requests_answer.sync_detailed(
        item.id, client=miviludes, idempotency_key=str(uuid.uuid4()),
        body=Answer.from_dict({
            "text": "14 signalements reçus depuis 2019 sur ce mouvement.",
            "signed_by": {"name": "Anne Lefèvre",
                          "capacity": "Cheffe du pôle santé, Miviludes"},
            "signed_on": time.strftime("%Y-%m-%d"), "notice_acknowledged": True})))
    say(f"4. miviludes answered: {answer.status}")
    entry = _typed_feed_entry(court, item.id, "answered")
    say(f"5. the answer reached tj-paris' feed at {entry.delivered_at.isoformat()}: "
        f"{entry.event.data.content.text!r}")
    final = information_requests_read.sync(item.id, client=court)
    say(f"6. tj-paris reads the request: status {final.status}, "
        f"{len(final.steps)} steps, delivered at {final.delivered_at.isoformat()}")
    other = information_requests_read.sync_detailed(item.id, client=login("dgs"))
    say(f"7. the DGS asking for it gets {other.status_code} (isolation)")


def _typed_feed_entry(client, item_id: str, event: str, timeout: float = 20):
    """The feed entry of the item's event, as the generated client types it."""
    from vigie_client.api.feed import feed_read

    deadline, after = time.monotonic() + timeout, "0"
    while time.monotonic() < deadline:
        page = feed_read.sync(client=client, after=after)
        for entry in page.items:
            if entry.event.subject == item_id and entry.event.type_.endswith("." + event):
                return entry
        after = page.next_
        time.sleep(0.2)
    raise TimeoutError(f"{event} for {item_id} not in the feed after {timeout}s")


def run_order_notification(base_url: str, creds: dict, say=print) -> None:
    """A pharmacist's conviction reaches the pharmacists' order; a relaxe retracts it."""
    prosecution = DemoClient(base_url, creds["pr-paris"])
    order = DemoClient(base_url, creds["cnop"])
    notification = {
        "professional": {"rpps": "10001234565", "last_name": "Moreau",
                         "first_names": ["Julien"], "birth_date": "1978-04-12",
                         "profession": "PHARMACIENS",
                         "address": {"line1": "12 rue des Lilas", "postal_code": "75011",
                                     "city": "Paris"},
                         "activity": "Pharmacien adjoint", "place_of_practice": "Paris 11e"},
        "measure": {"type": "conviction", "finality": "appeal_lodged",
                    "decision_date": "2025-10-02",
                    "operative_part": "18 mois d'emprisonnement avec sursis."},
        "offences": [{"qualification": "Abus frauduleux de l'état de sujétion (223-15-3 CP)",
                      "date": "2023-05-01", "place": "Paris",
                      "description": "Vente de remèdes à des patients atteints de cancer."}],
        "court": {"court_code": "TJ-PARIS"},
        "case_references": {"parquet_number": "23101000789"},
        "person_informed_on": "2025-10-03",
    }
    judgment = prosecution.upload(_judgment_pdf(), "application/pdf",
                                  "Jugement du tribunal correctionnel de Paris")
    say(f"8a. pr-paris uploaded the judgment (PDF, {judgment['size']} bytes, "
        f"sha256 {judgment['sha256'][:16]}…)")
    item = prosecution.post("/v1/order-notifications",
                            {**notification, "documents": [{"id": judgment["id"]}]})
    say(f"8. pr-paris notified a pharmacist's conviction; routed by profession to "
        f"{item['recipient']}: {item['status']}")
    entry = order.wait_feed(item["id"], "submitted")
    lag = (datetime.fromisoformat(entry["delivered_at"])
           - datetime.fromisoformat(item["submitted_at"])).total_seconds()
    say(f"9. delivered to cnop's feed {lag:.2f}s after acceptance (target: 60s)")
    copy = order.request("GET", f"/v1/documents/{judgment['id']}")
    copy.raise_for_status()
    same = hashlib.sha256(copy.content).hexdigest() == judgment["sha256"]
    say(f"9a. cnop downloaded the judgment: {len(copy.content)} bytes, digest "
        f"{'matches' if same else 'DIFFERS'} (ETag {copy.headers['etag'][:18]}…)")
    record = order.request("GET", f"/v1/order-notifications/{item['id']}/record.pdf")
    record.raise_for_status()
    say(f"9b. cnop printed the sealed record for its file: record.pdf, "
        f"{len(record.content)} bytes")
    ack = order.post(f"/v1/order-notifications/{item['id']}/acknowledgement",
                     {"reference": "CNOP-DISC-DEMO"})
    say(f"10. cnop acknowledged with its reference CNOP-DISC-DEMO: {ack['status']}")
    out = prosecution.post(f"/v1/order-notifications/{item['id']}/outcome",
                           {"outcome": "relaxe", "final": True, "decision_date": "2025-11-20"})
    say(f"11. pr-paris sent the outcome (relaxe): {out['status']}; the hub keeps "
        f"{sorted(out['content'])}")
    entry = order.wait_feed(item["id"], "retracted")
    kept = sorted(order.get(f"/v1/order-notifications/{item['id']}")["content"])
    say(f"12. cnop's feed got the retraction (erase={entry['event']['data']['erase']}); "
        f"what cnop can still read: {kept}")
    gone = order.request("GET", f"/v1/documents/{judgment['id']}")
    say(f"12a. the judgment was destroyed with the personal data: GET answers "
        f"{gone.status_code}, its digest kept")


def _judgment_pdf() -> bytes:
    """A demo decision, as a court's system would export it."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "TRIBUNAL CORRECTIONNEL DE PARIS - Jugement du 2 octobre 2025\n"
                   "Condamne M. Julien Moreau a 18 mois d'emprisonnement avec sursis "
                   "(demonstration).")
    return bytes(pdf.output())


def run_content_notices(base_url: str, creds: dict, say=print) -> None:
    """A trusted flagger's notice (priority lane), a duplicate, the platform's decision."""
    flagger = DemoClient(base_url, creds["vigilance-alpha"])
    other = DemoClient(base_url, creds["vigilance-beta"])
    platform = DemoClient(base_url, creds["plateforme-alpha"])
    url = f"https://video.plateforme-alpha.example/watch?v={uuid.uuid4().hex[:8]}"
    notice = {"recipient": "plateforme-alpha", "urls": [url],
              "category": "dangerous_health_practice",
              "explanation": "Incite des malades à arrêter leur traitement.",
              "legal_provision": "art. 223-1-2 CP",
              "notifier": {"email": "signalements@vigilance-alpha.example"},
              "good_faith_statement": True}
    first = flagger.post("/v1/content-notices", notice)
    say(f"13. vigilance-alpha (trusted flagger) notified plateforme-alpha: lane {first['lane']}")
    dup = other.post("/v1/content-notices", {**notice, "urls": [url.replace("https", "HTTPS")
                                                                + "#t=1"]})
    seen = platform.get(f"/v1/content-notices/{dup['id']}")
    say(f"14. vigilance-beta notified the same URL (lane {dup['lane']}: outside the areas of "
        "its award): plateforme-alpha sees it linked as "
        f"duplicate_of {seen['content'].get('duplicate_of')} (vigilance-beta is not told of "
        "vigilance-alpha's notice)")
    platform.wait_feed(first["id"], "submitted")
    decision = platform.post(f"/v1/content-notices/{first['id']}/decision", {
        "outcome": "restricted",
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "art. 223-1-2 CP",
        "illegal_content_explanation": "Provocation à l'abandon de soins.",
        "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "content_type": ["CONTENT_TYPE_VIDEO"], "content_language": "FR",
        "application_date": datetime.now().date().isoformat(),
        "territorial_scope": ["EEA"], "decision_facts": "Incitation à l'abandon de soins.",
        "puid": f"ALPHA-{first['id'][:8]}",
        "automated_detection": False, "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "redress": "Réclamation interne (art. 20 DSA), règlement extrajudiciaire, juge."})
    flagger.wait_feed(first["id"], "decided")
    say(f"15. plateforme-alpha decided ({decision['status']}); the decision reached "
        "vigilance-alpha")


def run_suspension_orders(base_url: str, creds: dict, say=print) -> None:
    """A suspension order executed, and ARCOM's oversight figures."""
    platform = DemoClient(base_url, creds["plateforme-alpha"])
    court = DemoClient(base_url, creds["tj-lyon"])
    order = court.post("/v1/suspension-orders", {
        "recipient": "plateforme-alpha",
        "decision": {"court_code": "TJ-LYON", "date": "2025-09-15", "finality": "final"},
        "accounts": [{"identifier": "@eveil.interieur"}], "duration_months": 6,
        "served_on": "2025-09-20"})
    platform.wait_feed(order["id"], "submitted")
    done = platform.post(f"/v1/suspension-orders/{order['id']}/execution",
                         {"result": "executed",
                          "blocked_at": datetime.now().astimezone().isoformat(),
                          "other_accounts": {"blocked": [], "note": "Aucun autre compte."},
                          "new_accounts": {"measures": "Inscription refusée pour l'adresse "
                                                       "et le téléphone du titulaire."}})
    say(f"16. tj-lyon served a suspension order; plateforme-alpha: {done['status']}")
    arcom = DemoClient(base_url, creds["arcom"])
    figures = next(p for p in arcom.get("/v1/oversight/platforms")["platforms"]
                   if p["platform"] == "plateforme-alpha")
    say(f"17. ARCOM oversight for plateforme-alpha: {figures['notices_received']} notices "
        f"received, {figures['notices_decided']} decided, priority share "
        f"{figures['priority_share']}, {figures['suspension_orders_executed']} order(s) executed")


SIGNALEMENT = {
    "sender_reference": "DEMO-SIG-1",
    "categories": ["health", "finances", "online"],
    "movement": "Cercle du Renouveau Intérieur (fictif)",
    "practices": ["jeûne prolongé", "stages de « guérison »"],
    "facts": "Une mère signale que sa fille, soignée pour un cancer, a arrêté sa "
             "chimiothérapie après des stages payants et des vidéos en ligne.",
    "places": [{"commune_insee": "13055", "label": "Marseille"}],
    "people": [{"role": "victim", "last_name": "Roux", "first_names": ["Anne"],
                "birth_date": "1990-07-08", "contact": "Par l'association"},
               {"role": "alleged_author", "last_name": "Garnier", "first_names": ["Serge"],
                "profession": "PHARMACIENS", "rpps": "10001234565"}],
}
REPORT = {
    "place": {"commune_insee": "13055", "label": "Marseille"},
    "facts": "Un praticien fait arrêter leur chimiothérapie à des patients et encaisse des "
             "stages de « guérison » à 3 000 € ; plusieurs familles ont alerté la Miviludes.",
    "offences": [{"qualification": "Abus frauduleux de l'état de sujétion psychologique "
                                   "(art. 223-15-3 CP)", "natinf": "30041"}],
    "persons": [{"role": "alleged_author", "last_name": "Garnier", "first_names": ["Serge"]}],
    "reporting_official": {"name": "Claire Vidal", "capacity": "Conseillère santé, Miviludes"},
}
ORDER_REPORT = {
    "professional": {"rpps": "10001234565", "last_name": "Garnier", "first_names": ["Serge"],
                     "profession": "PHARMACIENS", "place_of_practice": "Marseille"},
    "practices": ["Vente de « remèdes » présentés comme alternatives aux traitements"],
    "facts": "Plusieurs signalements décrivent des conseils d'arrêt de traitement au comptoir.",
}


def run_signalements(base_url: str, creds: dict, say=print) -> None:
    """An association's signalement, pseudonymised at intake, qualified and routed onward
    to the parquet, the order and the platform; the association is told the category."""
    association = DemoClient(base_url, creds["asso-entraide-sud"])
    miviludes = DemoClient(base_url, creds["miviludes"])
    body = {**SIGNALEMENT, "received_on": datetime.now().date().isoformat(),
            "urls": [f"https://video.plateforme-alpha.example/watch?v={uuid.uuid4().hex[:8]}"]}
    item = association.post("/v1/signalements", body)
    say(f"S1. asso-entraide-sud passed a signalement on to {item['recipient']}; the hub keeps "
        f"the people as {[p['ref'] for p in item['content']['people']]}")
    miviludes.wait_feed(item["id"], "submitted")
    path = f"/v1/signalements/{item['id']}"
    resp = miviludes.request("GET", path, params={"identity": "true"},
                             headers={"Vigie-Purpose": "Qualification du signalement"})
    resp.raise_for_status()
    say(f"S2. miviludes, stating its purpose, reads who P1 is: "
        f"{resp.json()['identities']['P1']['last_name']} (audited)")
    miviludes.post(f"{path}/acknowledgement", {"reference": "MIV-DEMO-SIG"})
    routed = miviludes.post(f"{path}/referral-to-prosecution", REPORT)
    report = routed["steps"][-1]["content"]
    say(f"S3. miviludes reported the facts to the parquet (art. 40): offence report "
        f"{report['item']} routed by place to {report['recipient']}")
    order = miviludes.post(f"{path}/referral-to-order", ORDER_REPORT)["steps"][-1]["content"]
    say(f"S4. and to the order governing the profession: {order['recipient']}")
    notice = {"recipient": "plateforme-alpha", "urls": body["urls"],
              "category": "dangerous_health_practice",
              "explanation": "La vidéo incite des malades à arrêter leur traitement.",
              "legal_provision": "art. 223-1-2 CP",
              "notifier": {"email": "signalements@miviludes.example"},
              "good_faith_statement": True}
    sent = miviludes.post(f"{path}/referral-to-platform", notice)["steps"][-1]["content"]
    say(f"S5. and notified {sent['recipient']} of the video (DSA art. 16)")
    entry = association.wait_feed(item["id"], "routed")
    say(f"S6. asso-entraide-sud's feed says only: {entry['event']['data']['content']}")


def run_offence_reports(base_url: str, creds: dict, say=print) -> None:
    """An art. 40 report routed by place; the parquet's number, then its decision
    (art. 40-2 CPP) back to the reporter."""
    miviludes = DemoClient(base_url, creds["miviludes"])
    parquet = DemoClient(base_url, creds["pr-marseille"])
    item = miviludes.post("/v1/offence-reports", REPORT)
    say(f"R1. miviludes reported facts in Marseille: routed to {item['recipient']}, "
        f"acknowledgement due {item['due_at']}")
    parquet.wait_feed(item["id"], "submitted")
    ack = parquet.post(f"/v1/offence-reports/{item['id']}/acknowledgement",
                       {"parquet_number": "25123000456"})
    say(f"R2. pr-marseille acknowledged (parquet 25123000456); its decision is due "
        f"{ack['due_at']} (art. 40-2 CPP)")
    parquet.post(f"/v1/offence-reports/{item['id']}/decision", {
        "decision": "classement_sans_suite", "decided_on": datetime.now().date().isoformat(),
        "reasons": {"kind": "legal", "code": "insufficient_evidence",
                    "explanation": "Infraction insuffisamment caractérisée."}})
    entry = miviludes.wait_feed(item["id"], "decided")
    say(f"R3. miviludes was told: {entry['event']['data']['content']['decision']}, "
        f"reasons {entry['event']['data']['content']['reasons']['kind']}")


def run_order_reports(base_url: str, creds: dict, say=print) -> None:
    """Miviludes reports a pharmacist's practices; the order asks, is answered, files a
    complaint and reports the chamber's decision."""
    miviludes = DemoClient(base_url, creds["miviludes"])
    order = DemoClient(base_url, creds["cnop"])
    item = miviludes.post("/v1/order-reports", ORDER_REPORT)
    path = f"/v1/order-reports/{item['id']}"
    say(f"O1. miviludes reported a pharmacist's practices: routed to {item['recipient']}")
    order.wait_feed(item["id"], "submitted")
    order.post(f"{path}/acknowledgement", {"reference": "CNOP-SIG-DEMO"})
    order.post(f"{path}/question", {"question": "Des patients acceptent-ils d'être entendus ?"})
    miviludes.wait_feed(item["id"], "question_asked")
    miviludes.post(f"{path}/answer", {"answer": "Deux familles ont donné leur accord."})
    order.post(f"{path}/complaint", {"filed_on": datetime.now().date().isoformat()})
    done = order.post(f"{path}/decision", {"outcome": "temporary_ban", "ban_months": 6,
                                          "decided_on": datetime.now().date().isoformat()})
    say(f"O2. cnop asked a question, was answered, filed a complaint; decision: "
        f"{done['steps'][-1]['content']['outcome']} ({done['status']})")
    stats = miviludes.get("/v1/statistics", by="outcome", exchange="order-reports")
    say(f"O3. the statistics show {len(stats['rows'])} row(s), counts under "
        f"{stats['threshold']} withheld")


SCENES = {"information-requests": run_information_request,
          "order-notifications": run_order_notification,
          "content-notices": run_content_notices,
          "suspension-orders": run_suspension_orders,
          "signalements": run_signalements,
          "offence-reports": run_offence_reports,
          "order-reports": run_order_reports}
