"""LinkedIn: POST /rest/posts with its version headers. A 422 DUPLICATE_POST on a retry is
evidence the first attempt landed. There is no refresh flow: an expired token means reconnect."""

from __future__ import annotations

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePost
from domain.quota import QUOTAS
from domain.validation import Problem, rules_for, validate
from infrastructure.platforms.http import Answer, Http, by_status, fingerprint, json_body, observed
from services.ports import AccountAccess, Refreshed, RefreshFailed

VERSION = "202411"


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

    async def publish(self, intent: PublishIntent, account: AccountAccess) -> Observed:
        url, headers, body = self.request(intent, account)
        answer = await self.http.request("POST", url, headers=headers, body=body)
        return self._outcome(answer, intent)

    @staticmethod
    def _outcome(answer: Answer | Observed, intent: PublishIntent) -> Observed:
        if isinstance(answer, Observed):
            return answer
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 201:
            urn = answer.headers.get("x-restli-id")
            link = f"https://www.linkedin.com/feed/update/{urn}/" if urn else None
            return observed(answer, Observation.ACCEPTED, remote_id=urn, permalink=link)
        code, message = str(body.get("code", "")) or None, str(body.get("message", ""))
        if answer.status == 422 and code == "DUPLICATE_POST":
            kind = Observation.ACCEPTED if intent.attempt > 1 else Observation.REJECTED
            return observed(answer, kind, code, message)
        return by_status(answer, code, message, None)  # LinkedIn's 429 carries no reset header

    async def find(self, intent: PublishIntent, account: AccountAccess) -> RemotePost | None:
        answer = await self.http.request(
            "GET",
            f"{account.base_url}/rest/posts",
            headers=self.headers(account),
            params={"q": "author", "author": f"urn:li:person:{account.remote_user_id}", "count": "50"},
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise LookupError(f"LinkedIn did not answer the look-up: {answer}")
        wanted = fingerprint(intent.content.text)
        for element in answer.body.get("elements", []):
            if fingerprint(str(element.get("commentary", ""))) == wanted:
                urn = str(element["id"])
                return RemotePost(remote_id=urn, permalink=f"https://www.linkedin.com/feed/update/{urn}/")
        return None

    async def refresh(self, account: AccountAccess) -> Refreshed:
        raise RefreshFailed("LinkedIn offers this app no refresh flow; reconnect the account")
