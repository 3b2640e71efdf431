"""Order notifications (art. 11-3 CPP): the prosecutor informs the national order of a
health professional who is convicted or placed under judicial control; an acquittal,
relaxe or non-lieu retracts the notification and the personal data is erased."""
