"""Adapters: event store wiring, encoding, platform clients, the simulator, HTTP API and CLI."""
