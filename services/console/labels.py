"""The console's words: exchanges, steps, states and the purposes of a consultation."""

EXCHANGE_TITLES = {
    "information-requests": "Demandes d'information (art. 157-3 CPP)",
    "order-notifications": "Informations des ordres (art. 11-3 CPP)",
    "content-notices": "Notifications de contenus (DSA art. 16 et 22)",
    "suspension-orders": "Suspensions de comptes (art. 131-35-1 CP)",
}
ACTIONS = {
    "submit": "Envoyer", "acknowledgement": "Accuser réception", "answer": "Répondre",
    "declination": "Décliner", "withdrawal": "Retirer", "outcome": "Informer de l'issue",
    "person-information": "Compléter l'identité", "copy-request": "Demander copie",
    "copy": "Transmettre la copie", "deletion": "Confirmer l'effacement",
    "decision": "Décider", "publication": "Publier la décision", "complaint": "Contester",
    "complaint-decision": "Statuer sur la contestation", "execution": "Exécuter",
    "lifting": "Lever la mesure", "unblocking": "Débloquer",
}
STATUSES = {
    "submitted": "reçue", "served": "signifiée", "delivered": "délivrée",
    "acknowledged": "accusée", "answered": "répondue", "declined": "déclinée",
    "withdrawn": "retirée", "outcome_notified": "issue notifiée",
    "awaiting_final_decision": "en attente de décision définitive", "retracted": "effacée",
    "deletion_confirmed": "effacement confirmé", "decided": "décidée",
    "contested": "contestée", "complaint_decided": "contestation tranchée",
    "executed": "exécutée", "impossible": "impossible", "lifted": "levée", "ended": "terminée",
}
# Why an agent opens a file that holds personal data (recorded in the audit log).
PURPOSES = {
    "traitement": "Traitement du dossier",
    "suivi": "Suivi des délais",
    "controle": "Contrôle interne",
    "autre": "Autre motif",
}
