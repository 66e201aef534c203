"""The database and every store: the only place in node/ that holds SQL."""
