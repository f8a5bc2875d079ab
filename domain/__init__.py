"""Herald's model: posts, their events and the pure decisions about them. No I/O here."""
