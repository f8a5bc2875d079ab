"""Bodies of the webhook endpoints' routes (see models.py for the shared ones)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from infrastructure.api.models import Strict


class AddEndpoint(Strict):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    events: list[
        Literal[
            "post.delivered",
            "post.failed",
            "post.partial",
            "post.ambiguous",
            "post.attention",
            "post.held",
            "post.canceled",
            "post.awaiting_approval",
            "account.disconnected",
            "rule.materialised",
            "plan.completed",
        ]
    ] = Field(min_length=1, max_length=11)


class EndpointOut(BaseModel):
    endpoint_id: str
    url: str
    events: list[str]
    secret: str | None = Field(default=None, description="shown once, when the endpoint is added")


class EndpointList(BaseModel):
    items: list[EndpointOut]


class Removed(BaseModel):
    removed: str


class InboundAck(BaseModel):
    accepted: bool
    duplicate: bool
