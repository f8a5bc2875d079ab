"""A workspace: the boundary of everything a domain service may see, with its API keys and
webhook endpoints. Keys are kept only as hashes; endpoint secrets arrive sealed.

    Created ─► KeyIssued … KeyRevoked … EndpointAdded … EndpointRemoved
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

from domain.base import Aggregate, Immutable
from domain.errors import HeraldError
from domain.instants import require_utc
from domain.text import check_text

Scope = Literal["read", "write", "approve", "support"]


class EndpointNotFound(HeraldError):
    code = "endpoint_not_found"
    field = "endpoint_id"


class KeyRecord(Immutable):
    key_id: str
    key_hash: str  # sha256 of the secret part; the secret itself is never stored
    scopes: tuple[Scope, ...]
    revoked: bool = False


class Endpoint(Immutable):
    endpoint_id: str
    url: str
    sealed_secret: str
    events: tuple[str, ...]


class KeyNotFound(HeraldError):
    code = "key_not_found"
    field = "key_id"


class Workspace(Aggregate):
    class Created(Aggregate.Created):
        name: str

        def apply(self, workspace: Workspace) -> None:
            workspace.name = self.name
            workspace.keys = {}
            workspace.endpoints = {}

    class KeyIssued(Aggregate.Event):
        key: KeyRecord

        def apply(self, workspace: Workspace) -> None:
            workspace.keys[self.key.key_id] = self.key

    class KeyRevoked(Aggregate.Event):
        key_id: str

        def apply(self, workspace: Workspace) -> None:
            workspace.keys[self.key_id] = workspace.keys[self.key_id].model_copy(update={"revoked": True})

    class EndpointAdded(Aggregate.Event):
        endpoint: Endpoint

        def apply(self, workspace: Workspace) -> None:
            workspace.endpoints[self.endpoint.endpoint_id] = self.endpoint

    class EndpointRemoved(Aggregate.Event):
        endpoint_id: str

        def apply(self, workspace: Workspace) -> None:
            workspace.endpoints.pop(self.endpoint_id, None)

    class ApprovalSet(Aggregate.Event):
        """Whether the workspace's posts wait for an approver (an account's own setting wins)."""

        required: bool

        def apply(self, workspace: Workspace) -> None:
            workspace.approval = self.required

    if TYPE_CHECKING:
        name: str
        keys: dict[str, KeyRecord]
        endpoints: dict[str, Endpoint]
    approval: bool = False

    @classmethod
    def create(cls, *, workspace_id: UUID, name: str, now: datetime) -> Workspace:
        if not name.strip():
            raise HeraldError("a workspace needs a name", field="name")
        check_text(name, field="name")
        return cls._create(cls.Created, id=workspace_id, timestamp=require_utc(now, field="now"), name=name.strip())

    def issue_key(self, key: KeyRecord, *, now: datetime) -> None:
        self.trigger_event(self.KeyIssued, timestamp=require_utc(now, field="now"), key=key)

    def revoke_key(self, key_id: str, *, now: datetime) -> None:
        if key_id not in self.keys:
            raise KeyNotFound(f"no key {key_id} in this workspace")
        self.trigger_event(self.KeyRevoked, timestamp=require_utc(now, field="now"), key_id=key_id)

    def add_endpoint(self, endpoint: Endpoint, *, now: datetime) -> None:
        self.trigger_event(self.EndpointAdded, timestamp=require_utc(now, field="now"), endpoint=endpoint)

    def remove_endpoint(self, endpoint_id: str, *, now: datetime) -> None:
        if endpoint_id not in self.endpoints:
            raise EndpointNotFound(f"no webhook endpoint {endpoint_id}")
        self.trigger_event(self.EndpointRemoved, timestamp=require_utc(now, field="now"), endpoint_id=endpoint_id)

    def require_approval(self, required: bool, *, now: datetime) -> None:
        if required != self.approval:
            self.trigger_event(self.ApprovalSet, timestamp=require_utc(now, field="now"), required=required)
