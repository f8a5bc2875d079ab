"""`scripts/bench`: Herald beside the database's raw limit and a peer job queue (procrastinate)."""
