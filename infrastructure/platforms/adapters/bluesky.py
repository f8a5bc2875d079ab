"""Bluesky (AT Protocol): a session from createSession, kept and refreshed with refreshSession;
posts by com.atproto.repo.createRecord with an `rkey` derived from the publish key, so a retry
collides instead of duplicating; `find` is getRecord on that key. Links become facets."""

from __future__ import annotations

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePost
from domain.quota import QUOTAS
from domain.validation import URL, Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, by_status, json_body, observed
from services.ports import AccountAccess, Refreshed, RefreshFailed

COLLECTION = "app.bsky.feed.post"


def rkey(intent: PublishIntent, part: int) -> str:
    return intent.publish_key if part == 0 else f"{intent.publish_key}-{part + 1}"


def facets(text: str) -> list[dict[str, object]]:
    """Link facets, indexed by UTF-8 byte offsets as the protocol requires."""
    found = []
    for match in URL.finditer(text):
        start = len(text[: match.start()].encode())
        found.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(match.group().encode())},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": match.group()}],
            }
        )
    return found


class BlueskyAdapter:
    platform = Platform.BLUESKY
    limits = QUOTAS[Platform.BLUESKY]
    has_refresh = True

    def __init__(self, http: Http) -> None:
        self.http = http

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.BLUESKY))

    def request(
        self, intent: PublishIntent, part: int, text: str, reply: dict[str, object] | None, account: AccountAccess
    ) -> tuple[str, dict[str, str], bytes]:
        record: dict[str, object] = {
            "$type": COLLECTION,
            "text": text,
            "createdAt": intent.due_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        if links := facets(text):
            record["facets"] = links
        if reply:
            record["reply"] = reply
        body = {"repo": account.remote_user_id, "collection": COLLECTION, "rkey": rkey(intent, part), "record": record}
        headers = {"Authorization": f"Bearer {account.credentials['access_jwt']}"}
        return f"{account.base_url}/xrpc/com.atproto.repo.createRecord", headers, json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess) -> Observed:
        texts = [intent.content.text, *(part.text for part in intent.content.thread)]
        first: Observed | None = None
        root: dict[str, str] | None = None
        parent: dict[str, str] | None = None
        for part, text in enumerate(texts):
            if intent.attempt > 1 and (existing := await self._record(intent, part, account)):
                outcome: Observed = existing  # the earlier attempt landed this part: never twice
            else:
                reply = {"root": root, "parent": parent} if root and parent else None
                url, headers, body = self.request(intent, part, text, reply, account)
                outcome = self._outcome(await self.http.request("POST", url, headers=headers, body=body), account)
            first = first or outcome
            if outcome.kind is not Observation.ACCEPTED:
                if part:
                    return first.model_copy(update={"message": f"thread part {part + 1}: {outcome.kind.value}"})
                return outcome
            ref = {"uri": str(outcome.remote_id), "cid": str(outcome.platform_code or "")}
            root, parent = root or ref, ref
        assert first is not None
        return first

    def _outcome(self, answer: Answer | Observed, account: AccountAccess) -> Observed:
        if isinstance(answer, Observed):
            return answer
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 200 and body.get("uri"):
            uri = str(body["uri"])
            return observed(
                answer, Observation.ACCEPTED, body.get("cid"), remote_id=uri, permalink=self.permalink(uri, account)
            )
        error, message = str(body.get("error", "")), str(body.get("message", ""))
        if error in ("ExpiredToken", "InvalidToken", "AuthenticationRequired"):
            return observed(answer, Observation.AUTH_REVOKED, error, message)
        reset = answer.headers.get("ratelimit-reset", "")
        from datetime import UTC, datetime

        retry_at = datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None
        return by_status(answer, error or None, message, retry_at)

    @staticmethod
    def permalink(uri: str, account: AccountAccess) -> str:
        return f"https://bsky.app/profile/{account.handle}/post/{uri.rsplit('/', 1)[-1]}"

    async def _record(self, intent: PublishIntent, part: int, account: AccountAccess) -> Observed | None:
        found = await self._get_record(rkey(intent, part), account)
        if found is None:
            return None
        return Observed(
            kind=Observation.ACCEPTED,
            http_status=200,
            remote_id=found.remote_id,
            permalink=found.permalink,
            platform_code="found_by_rkey",
        )

    async def _get_record(self, key: str, account: AccountAccess) -> RemotePost | None:
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/xrpc/com.atproto.repo.getRecord",
            params={"repo": account.remote_user_id, "collection": COLLECTION, "rkey": key},
        )
        if isinstance(answer, Observed):
            raise LookupError(f"Bluesky did not answer the look-up: {answer.kind.value}")
        if answer.status == 200:
            uri = str(answer.body["uri"])
            return RemotePost(remote_id=uri, permalink=self.permalink(uri, account))
        if answer.status == 400 and answer.body.get("error") == "RecordNotFound":
            return None
        raise LookupError(f"Bluesky did not answer the look-up: HTTP {answer.status}")

    async def find(self, intent: PublishIntent, account: AccountAccess) -> RemotePost | None:
        return await self._get_record(rkey(intent, 0), account)

    async def login(self, base_url: str, identifier: str, password: str) -> dict[str, str]:
        """createSession once; the session is then kept and refreshed (30 logins per 5 min)."""
        answer = await self.http.request(
            "POST",
            f"{base_url}/xrpc/com.atproto.server.createSession",
            body=json_body({"identifier": identifier, "password": password}),
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise RefreshFailed(f"Bluesky refused the login: {getattr(answer, 'body', answer)}")
        return {
            "access_jwt": answer.body["accessJwt"],
            "refresh_jwt": answer.body["refreshJwt"],
            "did": answer.body["did"],
        }

    async def refresh(self, account: AccountAccess) -> Refreshed:
        answer = await self.http.request(
            "POST",
            f"{account.base_url}/xrpc/com.atproto.server.refreshSession",
            headers={"Authorization": f"Bearer {account.credentials.get('refresh_jwt', '')}"},
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise RefreshFailed(f"Bluesky refused to refresh the session: {getattr(answer, 'body', answer)}")
        fresh = {
            **account.credentials,
            "access_jwt": answer.body["accessJwt"],
            "refresh_jwt": answer.body["refreshJwt"],
        }
        return Refreshed(fresh, None)
