"""LinkedIn: POST /rest/posts with its version headers. A retry of a post that landed gets
422 "Content is a duplicate of urn:li:share:…", naming the live post: evidence, with its id.
The reconciler reads the member's posts (newest first, 100 a page, `start` to page) back to
the attempt. There is no refresh flow: an expired token means reconnect."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, Search
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, at_part, by_status, fingerprint, json_body, observed
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts
from services.ports import AccountAccess, Progress, Refreshed, RefreshFailed

VERSION = "202411"
DUPLICATE = re.compile(r"duplicate of (urn:li:(?:share|ugcPost|activity):[\w-]+)", re.IGNORECASE)
PAGE = 100
SKEW = timedelta(minutes=1)


def permalink(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedInAdapter:
    platform = Platform.LINKEDIN
    limits = QUOTAS[Platform.LINKEDIN]
    has_refresh = False

    def __init__(self, http: Http) -> None:
        self.http = http

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]:
        return validate(content, rules_for(Platform.LINKEDIN))

    def headers(self, account: AccountAccess) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {account.credentials['access_token']}",
            "LinkedIn-Version": VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def request(self, intent: PublishIntent, account: AccountAccess) -> tuple[str, dict[str, str], bytes]:
        body = {
            "author": f"urn:li:person:{account.remote_user_id}",
            "commentary": intent.content.text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        return f"{account.base_url}/rest/posts", self.headers(account), json_body(body)

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        url, headers, body = self.request(intent, account)
        return self._outcome(await self.http.request("POST", url, headers=headers, body=body))

    @staticmethod
    def _outcome(answer: Answer | Observed) -> Observed:
        if (seen := at_part(answer, 1)) is not None:
            return seen
        assert isinstance(answer, Answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 201:
            urn = answer.headers.get("x-restli-id")
            return observed(answer, Observation.ACCEPTED, remote_id=urn, permalink=urn and permalink(urn), part=1)
        code, message = str(body.get("code", "")) or None, str(body.get("message", ""))
        if answer.status == 422 and (duplicate := DUPLICATE.search(message)):
            urn = duplicate.group(1)
            return observed(
                answer,
                Observation.ALREADY_PUBLISHED,
                code or "DUPLICATE_POST",
                message,
                remote_id=urn,
                permalink=permalink(urn),
                part=1,
            )
        return by_status(answer, code, message, None, 1)  # LinkedIn's 429 carries no reset header

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        since = intent.since() - SKEW
        listing = Listing()
        start, more = 0, True
        while more and listing.next_page():
            answer = await self.http.request(
                "GET",
                f"{account.base_url}/rest/posts",
                headers=self.headers(account),
                params={
                    "q": "author",
                    "author": f"urn:li:person:{account.remote_user_id}",
                    "count": str(PAGE),
                    "start": str(start),
                    "sortBy": "CREATED",
                },
            )
            if isinstance(answer, Observed) or answer.status != 200:
                raise lookup_failed("LinkedIn", answer)
            elements = answer.body.get("elements", [])
            for element in elements:
                created = datetime.fromtimestamp(int(element.get("createdAt", 0)) / 1000, UTC)
                if created < since:
                    more = False
                    break
                urn = str(element["id"])
                listing.add(urn, str(element.get("commentary", "")), None, permalink(urn))
            start += len(elements)
            more = more and len(elements) == PAGE
        found = match_parts(intent, listing, fingerprint)
        how = (
            f"read the member's {listing.count} posts since {since.isoformat()} in {listing.pages} pages"
            if not more
            else f"the member has more posts since {since.isoformat()} than a look reads ({listing.count})"
        )
        return Search(found=found, complete=not more, how=how)

    async def refresh(self, account: AccountAccess) -> Refreshed:
        raise RefreshFailed("LinkedIn offers this app no refresh flow; reconnect the account")
