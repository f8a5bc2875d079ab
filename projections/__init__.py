"""Read models folded from events: the due-job index, the support timeline, stats."""
