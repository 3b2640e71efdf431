"""Content notices (DSA art. 16, 17, 22): Miviludes, ARCOM and trusted flaggers report
illegal content to a platform, which decides and states its reasons; ARCOM oversees."""
