"""The record's text and layout, in French: who sent what to whom under which text,
every step with its time and actor, the content, the documents with their digests, the
evidence identifiers and the checkpoint they lead to."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF

PARIS = ZoneInfo("Europe/Paris")
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
EXCHANGES_FR = {
    "information-requests": "Demande d'information à un service (art. 157-3 CPP)",
    "order-notifications": "Information d'un ordre professionnel de santé (art. 11-3 CPP)",
    "content-notices": "Notification de contenu à une plateforme (art. 16 et 22 RSN/DSA)",
    "suspension-orders": "Ordre de suspension de compte (art. 131-35-1 CP)",
    "signalements": "Signalement à la Miviludes",
    "offence-reports": "Signalement au procureur de la République (art. 40 et 40-2 CPP)",
    "order-reports": "Signalement à un ordre professionnel de santé",
}
STEPS_FR = {"submitted": "Transmission", "delivered": "Mise à disposition du destinataire",
            "retrieved": "Première consultation par le destinataire",
            "document-retrieved": "Premier téléchargement d'un document",
            "rejected": "Étape refusée"}


def _when(value: str | datetime | None) -> str:
    if value is None:
        return "—"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M:%S (heure de Paris)")


class _Record(FPDF):
    def __init__(self, footer_text: str):
        super().__init__(format="A4")
        self.footer_text = footer_text
        self.unicode = False
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                self.add_font("DejaVu", "", str(regular))
                self.add_font("DejaVu", "B", str(bold))
                self.unicode = True
                break
        self.family = "DejaVu" if self.unicode else "Helvetica"
        self.set_auto_page_break(True, margin=18)

    def text_of(self, text: str) -> str:
        """Core fonts know Latin-1 only (when DejaVu is not installed)."""
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(self.family, "", 7)
        self.cell(0, 5, self.text_of(f"{self.footer_text} — page {self.page_no()}/{{nb}}"),
                  align="C")

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font(self.family, "B", 11)
        self.multi_cell(0, 6, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)

    def line_of(self, label: str, value: str) -> None:
        self.set_font(self.family, "B", 9)
        self.multi_cell(0, 5, self.text_of(label), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)
        self.set_x(self.l_margin + 4)
        self.multi_cell(0, 5, self.text_of(value or "—"), new_x="LMARGIN", new_y="NEXT")

    def block(self, text: str, size: int = 8) -> None:
        self.set_font(self.family, "", size)
        self.set_x(self.l_margin + 4)
        self.multi_cell(0, 4, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def documents_of(resource: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every document the item carries, with the message that carried it."""
    found = [("Transmission", d) for d in resource["content"].get("documents") or []]
    for step in resource["steps"]:
        found += [(f"Étape « {step['action']} »", d)
                  for d in (step["content"] or {}).get("documents") or []]
    return found


def render(resource: dict[str, Any], evidence: dict[str, Any], names: dict[str, str],
           issuer: str, now: datetime) -> bytes:
    """`resource`: the item as its reader sees it; `evidence`: its evidence listing (with
    the checkpoint); `names`: organisations' names by id."""
    pdf = _Record(f"Vigie — relevé de l'élément {resource['id']} — établi le {_when(now)}")
    pdf.set_title(f"Relevé Vigie {resource['id']}")
    pdf.set_author(issuer)
    pdf.set_creator("Vigie")
    pdf.set_lang("fr-FR")
    pdf.set_creation_date(now)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 14)
    pdf.multi_cell(0, 7, pdf.text_of("Relevé d'échange Vigie"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    pdf.multi_cell(0, 5, pdf.text_of(EXCHANGES_FR.get(resource["exchange"],
                                                      resource["exchange"])),
                   new_x="LMARGIN", new_y="NEXT")

    def org(org_id: str) -> str:
        return f"{names.get(org_id, org_id)} ({org_id})"

    pdf.heading("1. Identification")
    pdf.line_of("Identifiant de l'élément", resource["id"])
    pdf.line_of("Fondement juridique", resource["legal_basis"])
    pdf.line_of("Émetteur", org(resource["sender"]))
    pdf.line_of("Destinataire", org(resource["recipient"]))
    pdf.line_of("Transmis le", _when(resource["submitted_at"]))
    pdf.line_of("Mis à disposition le", _when(resource["delivered_at"]))
    pdf.line_of("État", resource["status"] + (" (en retard)" if resource["overdue"] else ""))
    pdf.line_of("Échéance", _when(resource["due_at"]))
    if resource.get("notice"):
        pdf.line_of("Avertissement", resource["notice"])

    pdf.heading("2. Contenu transmis")
    pdf.block(_pretty(resource["content"]))

    pdf.heading("3. Étapes")
    if not resource["steps"]:
        pdf.block("Aucune étape après la transmission.", 9)
    for n, step in enumerate(resource["steps"], 1):
        pdf.line_of(f"3.{n}. « {step['action']} » par {org(step['by'])}", _when(step["at"]))
        pdf.block(_pretty(step["content"]))

    pdf.heading("4. Documents")
    carried = documents_of(resource)
    if not carried:
        pdf.block("Aucun document.", 9)
    for n, (where, doc) in enumerate(carried, 1):
        pdf.line_of(f"4.{n}. {doc.get('title') or 'Document sans titre'} — {where}",
                    f"identifiant {doc['id']}, {doc.get('media_type', '?')}, "
                    f"{doc.get('size', '?')} octets\nSHA-256 {doc['sha256']}")

    pdf.heading("5. Preuves (journal vérifiable)")
    for record in evidence["evidence"]:
        claims = record["claims"]
        label = STEPS_FR.get(record["step"], f"Étape « {record['step']} »")
        digest = claims.get("step_digest") or claims.get("message_digest")
        pdf.line_of(f"{label} — {_when(record['at'])}",
                    f"preuve {claims['jti']}, feuille {record['leaf_index']} du journal, "
                    f"empreinte {digest}")
    checkpoint = evidence.get("checkpoint")
    pdf.heading("6. Point de contrôle signé du journal")
    if checkpoint:
        pdf.block(checkpoint["note"])
    else:
        pdf.block("Le journal n'a pas encore de point de contrôle.", 9)
    pdf.ln(2)
    pdf.block("Chaque preuve se vérifie hors ligne avec le paquet de preuves de l'élément "
              "(GET …/evidence/bundle) et les clés du journal épinglées. Ce relevé est "
              "scellé par le cachet électronique du hub (PAdES) : toute modification "
              "invalide le cachet.", 8)
    return bytes(pdf.output())
