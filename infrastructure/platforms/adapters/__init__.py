"""One adapter per platform behind one interface (services.ports.PlatformAdapter)."""
