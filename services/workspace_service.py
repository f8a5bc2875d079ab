"""Workspaces and their API keys. A key is shown once, when issued; only its hash is stored.

A key reads `hk_<workspace id>_<key id>_<secret>`: the workspace and key ids find the stored
hash, and the secret is compared with it in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.errors import ConcurrentChange, HeraldError
from domain.workspace import Endpoint, KeyRecord, Scope, Workspace
from services.ports import AnyTarget, Clock, EventLog, Targets, system_clock

# approve: let posts that wait for approval go; support: sign in to the console (/console)
SCOPES: tuple[Scope, ...] = ("read", "write", "approve", "support")
FIRST_KEY: tuple[Scope, ...] = ("read", "write", "approve")  # a new workspace's first key
REMEMBER_FOR = 1.0  # seconds a verified key is remembered by this process


class Unauthenticated(HeraldError):
    code = "unauthenticated"
    field = "Authorization"


class WorkspaceNotFound(HeraldError):
    code = "workspace_not_found"
    field = "workspace_id"


CHANGE_TRIES = 10
T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    workspace_id: UUID
    key_id: str
    scopes: tuple[Scope, ...]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


REMEMBER_APPROVAL_FOR = 5.0  # seconds: another process sees a change of the default this late


class WorkspaceService:
    def __init__(self, events: EventLog, *, clock: Clock = system_clock, targets: Targets | None = None) -> None:
        self.events = events
        self.targets = targets or AnyTarget()
        self.clock = clock
        self._callers: dict[str, tuple[float, Caller]] = {}
        self._approvals: dict[str, tuple[float, bool]] = {}

    def create(self, name: str) -> tuple[UUID, str]:
        """A new workspace and its first key (read and write): (workspace id, api key)."""
        workspace = Workspace.create(workspace_id=uuid.uuid4(), name=name, now=self.clock())
        key = self._issue(workspace, FIRST_KEY)
        self.events.save(workspace)
        return workspace.id, key

    def create_key(self, workspace_id: UUID, scopes: Sequence[str] = FIRST_KEY) -> str:
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise HeraldError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(scopes)}", field="scopes")
        return self._changed(workspace_id, lambda w: self._issue(w, tuple(s for s in SCOPES if s in scopes)))

    def revoke_key(self, workspace_id: UUID, key_id: str) -> None:
        self._changed(workspace_id, lambda w: w.revoke_key(key_id, now=self.clock()))
        self._callers.clear()

    def authenticate(self, api_key: str) -> Caller:
        """Who is calling, or `Unauthenticated` (the same answer for every kind of bad key).

        A good key is remembered for a second, so a busy client costs one look-up a second;
        a revoked key is refused at most that long after its revocation, by this process."""
        remembered = self.remembered(api_key)
        if remembered is not None:
            return remembered
        now = time.monotonic()
        caller = self._authenticate(api_key)
        if len(self._callers) > 10_000:
            self._callers.clear()
        self._callers[api_key] = (now, caller)
        return caller

    def remembered(self, api_key: str) -> Caller | None:
        """The caller of a key verified in the last `REMEMBER_FOR` seconds, from memory alone
        (no I/O: the API answers it without a thread hop); None: ask `authenticate`."""
        found = self._callers.get(api_key)
        return found[1] if found is not None and time.monotonic() - found[0] < REMEMBER_FOR else None

    def _authenticate(self, api_key: str) -> Caller:
        refusal = Unauthenticated("the API key is missing, malformed, unknown or revoked")
        parts = api_key.split("_")
        if len(parts) != 4 or parts[0] != "hk":
            raise refusal
        try:
            workspace = self.get(UUID(hex=parts[1]))
        except (ValueError, WorkspaceNotFound):
            raise refusal from None
        record = workspace.keys.get(parts[2])
        if record is None or record.revoked or not hmac.compare_digest(record.key_hash, _hash(parts[3])):
            raise refusal
        return Caller(workspace.id, record.key_id, record.scopes)

    def add_endpoint(self, workspace_id: UUID, url: str, events: Sequence[str], sealer: Any) -> tuple[str, str]:
        """A webhook endpoint with its own signing secret: (endpoint id, secret shown once)."""
        url = self.targets.webhook_url(url)  # signed payloads go there: never a private address
        endpoint_id, secret = "we_" + secrets.token_hex(6), "whsec_" + secrets.token_urlsafe(32)
        sealed = sealer.seal({"secret": secret}, f"{workspace_id}/{endpoint_id}")
        endpoint = Endpoint(endpoint_id=endpoint_id, url=url, sealed_secret=sealed, events=tuple(events))
        self._changed(workspace_id, lambda w: w.add_endpoint(endpoint, now=self.clock()))
        return endpoint_id, secret

    def remove_endpoint(self, workspace_id: UUID, endpoint_id: str) -> None:
        self._changed(workspace_id, lambda w: w.remove_endpoint(endpoint_id, now=self.clock()))

    def _changed(self, workspace_id: UUID, change: Callable[[Workspace], T]) -> T:
        """Read the workspace, change it, save it; read again and redo the change when another
        request saved it first (keys and endpoints of one workspace change concurrently)."""
        for attempt in range(CHANGE_TRIES):
            workspace = self.get(workspace_id)
            result = change(workspace)
            try:
                self.events.save(workspace)
            except IntegrityError:
                if attempt == CHANGE_TRIES - 1:
                    raise ConcurrentChange("the workspace kept changing under this request; try again") from None
                continue
            return result
        raise AssertionError("unreachable")

    def set_approval(self, workspace_id: UUID, required: bool) -> bool:
        """Whether every post of the workspace waits for an approver (an account connected with
        its own `approval` setting keeps it)."""
        self._changed(workspace_id, lambda w: w.require_approval(required, now=self.clock()))
        self._approvals.clear()
        return required

    def approval_of(self, workspace: str) -> bool:
        """The workspace's approval default, remembered for a few seconds (one read per
        workspace, not per post); False for a workspace that is not an API workspace."""
        now = time.monotonic()
        remembered = self._approvals.get(workspace)
        if remembered is not None and now - remembered[0] < REMEMBER_APPROVAL_FOR:
            return remembered[1]
        try:
            required = self.get(UUID(workspace)).approval
        except (ValueError, WorkspaceNotFound):
            required = False
        if len(self._approvals) > 10_000:
            self._approvals.clear()
        self._approvals[workspace] = (now, required)
        return required

    def endpoints(self, workspace: str) -> list[Endpoint]:
        """The workspace's endpoints; none for a workspace that is not an API workspace."""
        try:
            return list(self.get(UUID(workspace)).endpoints.values())
        except (ValueError, WorkspaceNotFound):
            return []

    def endpoint_secret(self, workspace: str, endpoint_id: str, sealer: Any) -> str:
        endpoint = self.get(UUID(workspace)).endpoints[endpoint_id]
        return str(sealer.open(endpoint.sealed_secret, f"{workspace}/{endpoint_id}")["secret"])

    def get(self, workspace_id: UUID) -> Workspace:
        try:
            workspace = self.events.get(workspace_id)
        except AggregateNotFoundError:
            raise WorkspaceNotFound(f"no workspace {workspace_id}") from None
        if not isinstance(workspace, Workspace):
            raise WorkspaceNotFound(f"no workspace {workspace_id}")
        return workspace

    def _issue(self, workspace: Workspace, scopes: tuple[Scope, ...]) -> str:
        key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(24).replace("_", "-")
        workspace.issue_key(KeyRecord(key_id=key_id, key_hash=_hash(secret), scopes=scopes), now=self.clock())
        return f"hk_{workspace.id.hex}_{key_id}_{secret}"
