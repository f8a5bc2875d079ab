"""Platform adapters and the platform simulator that stands in for their hosts."""
