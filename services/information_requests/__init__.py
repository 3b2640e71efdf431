"""Information requests (art. 157-3 CPP): a court or prosecutor asks Miviludes or the
DGS for useful information on a movement or practice; the written answer goes into
the case file."""
