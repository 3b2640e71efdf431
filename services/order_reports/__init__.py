"""Reports from Miviludes to the national health orders (national strategy, objective
12): a health professional's practices, the order's questions and Miviludes' answers,
and the disciplinary outcome the order reports back."""
