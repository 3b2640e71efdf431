"""The console's words: exchanges, steps, states and the purposes of a consultation."""

EXCHANGE_TITLES = {
    "information-requests": "Demandes d'information (art. 157-3 CPP)",
    "order-notifications": "Informations des ordres (art. 11-3 CPP)",
    "content-notices": "Notifications de contenus (DSA art. 16 et 22)",
    "suspension-orders": "Suspensions de comptes (art. 131-35-1 CP)",
    "signalements": "Signalements à la Miviludes",
    "offence-reports": "Signalements au parquet (art. 40 et 40-2 CPP)",
    "order-reports": "Signalements aux ordres de santé",
}
ACTIONS = {
    "submit": "Envoyer", "acknowledgement": "Accuser réception", "answer": "Répondre",
    "declination": "Décliner", "withdrawal": "Retirer", "outcome": "Informer de l'issue",
    "person-information": "Compléter l'identité", "copy-request": "Demander copie",
    "copy": "Transmettre la copie", "deletion": "Confirmer l'effacement",
    "decision": "Décider", "publication": "Publier la décision", "complaint": "Contester",
    "complaint-decision": "Statuer sur la contestation", "execution": "Exécuter",
    "lifting": "Lever la mesure", "unblocking": "Débloquer",
    "qualification": "Qualifier", "case-opening": "Ouvrir un dossier",
    "referral-to-prosecution": "Signaler au parquet (art. 40)",
    "referral-to-order": "Signaler à l'ordre", "referral-to-platform": "Notifier la plateforme",
    "information-request-link": "Lier à une demande d'information",
    "question": "Poser une question",
}
STATUSES = {
    "submitted": "reçue", "served": "signifiée", "delivered": "délivrée",
    "acknowledged": "accusée", "answered": "répondue", "declined": "déclinée",
    "withdrawn": "retirée", "outcome_notified": "issue notifiée",
    "awaiting_final_decision": "en attente de décision définitive", "retracted": "effacée",
    "deletion_confirmed": "effacement confirmé", "decided": "décidée",
    "contested": "contestée", "complaint_decided": "contestation tranchée",
    "executed": "exécutée", "impossible": "impossible", "lifted": "levée", "ended": "terminée",
    "no_follow_up": "sans suite", "information": "conservée pour information",
    "case_opened": "dossier ouvert", "routed": "transmise",
    "awaiting_answer": "en attente de réponse", "complaint_filed": "plainte déposée",
}
# The statistics' dimensions (services/statistics) and their periods.
DIMENSIONS = {
    "state": "État", "legal_basis": "Base légale", "sender_type": "Type d'émetteur",
    "recipient_type": "Type de destinataire", "platform": "Plateforme",
    "deadline": "Délai", "outcome": "Issue", "natinf": "Infraction (NATINF)",
    "profession": "Profession", "category": "Catégorie", "qualification": "Qualification",
    "routed_to": "Transmis à", "reason": "Motif",
}
PERIODS = {"month": "Mois", "quarter": "Trimestre", "year": "Année"}
# Why an agent opens a file that holds personal data (recorded in the audit log).
PURPOSES = {
    "traitement": "Traitement du dossier",
    "suivi": "Suivi des délais",
    "controle": "Contrôle interne",
    "autre": "Autre motif",
}
