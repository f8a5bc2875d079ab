"""The HTTP API for domain services (aiohttp, pydantic models, orjson bodies)."""
