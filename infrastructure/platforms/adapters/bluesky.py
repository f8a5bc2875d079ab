"""Bluesky (AT Protocol): a session from createSession, kept and refreshed with refreshSession;
posts by com.atproto.repo.createRecord with an `rkey` derived from the publish key (one per
part), so a retry collides instead of duplicating. A PDS answers a colliding createRecord with
a 500 today (bluesky-social/atproto#3718), so after any 5xx, and before any retry, the rkey is
looked up with getRecord: a record there is ours. `find` is getRecord on each part's rkey,
which answers for certain. Links become facets."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from domain.content import Content, MediaRef, Platform
from domain.engagement import Counts
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, RemotePost, Search, Upload
from domain.quota import QUOTAS
from domain.validation import URL, Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, at_part, by_status, json_body, observed, reset_at
from infrastructure.platforms.lookups import observed_live, refresh_refused
from infrastructure.platforms.media_steps import PartFiles, sent_with_files
from services.ports import AccountAccess, Clock, MediaSource, Progress, Refreshed, RefreshFailed, system_clock

COLLECTION = "app.bsky.feed.post"
BLOB_KEPT = timedelta(hours=1)  # how long an uploaded blob no record refers to is reused


def rkey(intent: PublishIntent, part: int) -> str:
    """`part` counts from 0 (the post itself)."""
    return intent.publish_key if part == 0 else f"{intent.publish_key}-{part + 1}"


def facets(text: str) -> list[dict[str, Any]]:
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

    def __init__(self, http: Http, clock: Clock | None = None, files: MediaSource | None = None) -> None:
        self.http = http
        self.clock = clock or system_clock
        self.files = files

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.BLUESKY))

    def request(
        self,
        intent: PublishIntent,
        part: int,
        text: str,
        reply: dict[str, Any] | None,
        account: AccountAccess,
        images: list[dict[str, object]] | None = None,
        key: str | None = None,
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
        if images:
            record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
        name = key or rkey(intent, part)
        body = {"repo": account.remote_user_id, "collection": COLLECTION, "rkey": name, "record": record}
        headers = {"Authorization": f"Bearer {account.credentials['access_jwt']}"}
        return f"{account.base_url}/xrpc/com.atproto.repo.createRecord", headers, json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        threaded = intent.content.parts > 1
        first: Observed | None = None
        root: dict[str, str] | None = None
        parent: dict[str, str] | None = None
        for number, text, media in intent.media_parts:
            outcome = await self._part(intent, number, text, media, root, parent, account, progress)
            if outcome.kind is not Observation.ACCEPTED or outcome.remote_id is None:
                return outcome
            if threaded and not intent.live_part(number):
                await progress.part_live(
                    RemotePart(part=number, remote_id=outcome.remote_id, permalink=outcome.permalink)
                )
            first = first or outcome
            ref = {"uri": str(outcome.remote_id), "cid": str(outcome.platform_code or "")}
            root, parent = root or ref, ref
        assert first is not None
        if intent.content.first_comment and not intent.comment_done and root and parent:
            await self._first_comment(intent, intent.content.first_comment, root, parent, account, progress)
        return first

    async def _first_comment(
        self,
        intent: PublishIntent,
        text: str,
        root: dict[str, str],
        parent: dict[str, str],
        account: AccountAccess,
        progress: Progress,
    ) -> None:
        """A self-reply under the last part, under its own rkey (so it is never made twice)."""
        key = f"{intent.publish_key}-c"
        url, headers, body = self.request(intent, 0, text, {"root": root, "parent": parent}, account, key=key)
        seen = self._outcome(await self.http.request("POST", url, headers=headers, body=body), account, 0)
        if seen.kind is not Observation.ACCEPTED and (found := await self._get_record(key, account)) is not None:
            seen = Observed(kind=Observation.ACCEPTED, remote_id=found.remote_id, permalink=found.permalink)
        remote = RemotePart(part=0, remote_id=seen.remote_id, permalink=seen.permalink) if seen.remote_id else None
        await progress.first_comment(remote if seen.kind is Observation.ACCEPTED else None, seen)

    async def _upload(self, intent: PublishIntent, item: MediaRef, *, account: AccountAccess) -> Upload | Observed:
        assert self.files is not None
        mime = (await self.files.info(intent.workspace, item.ref)).mime
        data = await self.files.read(intent.workspace, item.ref)
        headers = {"Authorization": f"Bearer {account.credentials['access_jwt']}"}
        answer = await self.http.request(
            "POST",
            f"{account.base_url}/xrpc/com.atproto.repo.uploadBlob",
            headers=headers,
            body=data,
            content_type=mime,
        )
        if isinstance(answer, Observed) or answer.status != 200:
            return answer if isinstance(answer, Observed) else self._outcome(answer, account, 0)
        link = str(((answer.body.get("blob") or {}).get("ref") or {}).get("$link", ""))
        # a blob no record refers to is kept for a while only: reuse it within the hour
        return Upload(remote_id=link, expires_at=self.clock() + BLOB_KEPT)

    async def _part(
        self,
        intent: PublishIntent,
        number: int,
        text: str,
        media: tuple[MediaRef, ...],
        root: dict[str, str] | None,
        parent: dict[str, str] | None,
        account: AccountAccess,
        progress: Progress,
    ) -> Observed:
        if live := intent.live_part(number):
            return observed_live(live).model_copy(update={"platform_code": await self._cid(live.remote_id, account)})
        if (intent.attempt > 1 or intent.live) and (existing := await self._record(intent, number, account)):
            return existing  # an earlier attempt landed this part: never twice
        reply = {"root": root, "parent": parent} if root and parent else None
        files = PartFiles(intent, number, media, progress, self.clock, partial(self._upload, intent, account=account))
        outcome = await sent_with_files(
            files,
            partial(self._send, intent, number, text, reply, media, account),
            lambda seen: seen.http_status == 400 and "blob" in (seen.message or "").lower(),  # collected unused
        )
        if outcome.kind is Observation.SERVER_ERROR:
            # a colliding rkey is a 500 too: if the record is there, it is ours
            return await self._record(intent, number, account) or outcome
        return outcome

    async def _send(
        self,
        intent: PublishIntent,
        number: int,
        text: str,
        reply: dict[str, Any] | None,
        media: tuple[MediaRef, ...],
        account: AccountAccess,
        links: list[str],
    ) -> Observed:
        """The part's record, each image's blob (uploadBlob) with its alt text and shape."""
        images: list[dict[str, object]] = []
        for made, item in zip(links, media, strict=True):
            assert self.files is not None, "this Bluesky adapter was made without the media library"
            info = await self.files.info(intent.workspace, item.ref)
            blob = {"$type": "blob", "ref": {"$link": made}, "mimeType": info.mime, "size": info.size}
            shape = {"width": info.width, "height": info.height}
            images.append({"alt": item.alt_text or "", "image": blob, "aspectRatio": shape})
        url, headers, body = self.request(intent, number - 1, text, reply, account, images)
        return self._outcome(await self.http.request("POST", url, headers=headers, body=body), account, number)

    def _outcome(self, answer: Answer | Observed, account: AccountAccess, part: int) -> Observed:
        if (seen := at_part(answer, part)) is not None:
            return seen
        assert isinstance(answer, Answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 200 and body.get("uri"):
            uri = str(body["uri"])
            link = self.permalink(uri, account)
            return observed(answer, Observation.ACCEPTED, body.get("cid"), remote_id=uri, permalink=link, part=part)
        error, message = str(body.get("error", "")), str(body.get("message", ""))
        if error in ("ExpiredToken", "InvalidToken", "AuthenticationRequired"):
            return observed(answer, Observation.AUTH_REVOKED, error, message, part=part)
        if error == "RecordAlreadyExists":  # the explicit answer a PDS is to give (atproto#4728)
            return observed(answer, Observation.ALREADY_PUBLISHED, error, message, part=part)
        retry_at = reset_at(answer.headers.get("ratelimit-reset"))
        return by_status(answer, error or None, message, retry_at, part)

    @staticmethod
    def permalink(uri: str, account: AccountAccess) -> str:
        return f"https://bsky.app/profile/{account.handle}/post/{uri.rsplit('/', 1)[-1]}"

    async def _record(self, intent: PublishIntent, number: int, account: AccountAccess) -> Observed | None:
        found = await self._get_record(rkey(intent, number - 1), account)
        if found is None:
            return None
        return Observed(
            kind=Observation.ACCEPTED,
            http_status=200,
            remote_id=found.remote_id,
            permalink=found.permalink,
            platform_code=await self._cid(found.remote_id, account),
            part=number,
            message="found by its rkey: an earlier attempt landed it",
        )

    async def _cid(self, uri: str, account: AccountAccess) -> str:
        """A record's cid (a reply names its parent by uri and cid)."""
        key = uri.rsplit("/", 1)[-1]
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/xrpc/com.atproto.repo.getRecord",
            params={"repo": account.remote_user_id, "collection": COLLECTION, "rkey": key},
        )
        return str(answer.body.get("cid", "")) if isinstance(answer, Answer) and answer.status == 200 else ""

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

    async def counts(self, remote_id: str, account: AccountAccess) -> Counts | None:
        """app.bsky.feed.getPosts (through the PDS): likes, reposts, replies (None: not listed)."""
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/xrpc/app.bsky.feed.getPosts",
            headers={"Authorization": f"Bearer {account.credentials.get('access_jwt', '')}"},
            params={"uris": remote_id},
        )
        if isinstance(answer, Observed) or answer.status != 200 or not isinstance(answer.body, dict):
            raise LookupError(f"Bluesky did not answer getPosts: {_why(answer)}")
        views = [view for view in answer.body.get("posts", []) if view.get("uri") == remote_id]
        if not views:
            return None
        view = views[0]
        return Counts(
            likes=view.get("likeCount", 0), reposts=view.get("repostCount", 0), replies=view.get("replyCount", 0)
        )

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        """Each part's record by its rkey: found, or certainly not there."""
        found: list[RemotePart] = []
        for number, _ in intent.parts:
            if intent.live_part(number):
                continue
            record = await self._get_record(rkey(intent, number - 1), account)
            if record is None:
                break
            found.append(RemotePart(part=number, remote_id=record.remote_id, permalink=record.permalink))
        how = f"looked up the records by their keys ({intent.publish_key}…): {len(found)} found"
        return Search(found=tuple(found), complete=True, how=how)

    async def login(self, base_url: str, identifier: str, password: str) -> dict[str, str]:
        """createSession once; the session is then kept and refreshed (30 logins per 5 min)."""
        answer = await self.http.request(
            "POST",
            f"{base_url}/xrpc/com.atproto.server.createSession",
            body=json_body({"identifier": identifier, "password": password}),
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise RefreshFailed(f"Bluesky refused the login: {_why(answer)}")
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
            raise refresh_refused("Bluesky", answer)
        fresh = {
            **account.credentials,
            "access_jwt": answer.body["accessJwt"],
            "refresh_jwt": answer.body["refreshJwt"],
        }
        return Refreshed(fresh, None)


def _why(answer: Answer | Observed) -> str:
    """Why a login or refresh did not work, in a line: no answer at all, or the server's."""
    if isinstance(answer, Observed):
        return f"no answer ({answer.message or answer.kind.value})"
    return f"HTTP {answer.status} {str(answer.body)[:200]}"
