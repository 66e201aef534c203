"""The node in its federation: ingest (admission), trust, quarantine, the own log, and the acts that sign."""
