"""What Instagram and Facebook Pages share of Meta's Graph API: its error objects, a comment
under a published object, and reading an account's recent objects page by page (cursors)
for the reconciler."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search
from infrastructure.platforms.http import Answer, Http, by_status, fingerprint, observed
from infrastructure.platforms.lookups import Listing, lookup_failed, match_parts
from services.ports import Progress

VERSION = "v21.0"
PAGE = 100
SKEW = timedelta(minutes=1)
RATE_CODES = (4, 17, 32, 613)  # application, user, page and call-rate limits


def graph_error(answer: Answer, part: int) -> Observed:
    """A Graph error object (`{"error": {"code", "message", "error_subcode"}}`) as an outcome."""
    error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
    code, message = error.get("code"), str(error.get("message", ""))
    if code == 190:
        return observed(answer, Observation.AUTH_REVOKED, "190", message, part=part)
    if code in RATE_CODES or (code == 9 and error.get("error_subcode") == 2207042):  # 2207042: publishing limit
        return observed(answer, Observation.RATE_LIMITED, str(code), message, part=part)
    return by_status(answer, str(code) if code is not None else None, message, None, part)


async def comment(http: Http, url: str, headers: dict[str, str], text: str, progress: Progress) -> None:
    """POST a comment at `url` (…/{object-id}/comments): its own outcome, never the post's."""
    answer = await http.request("POST", url, headers=headers, params={"message": text})
    if isinstance(answer, Answer) and answer.status == 200 and answer.body.get("id"):
        await progress.first_comment(RemotePart(part=0, remote_id=str(answer.body["id"])), None)
    else:
        await progress.first_comment(None, answer if isinstance(answer, Observed) else graph_error(answer, 0))


async def recent(
    http: Http,
    intent: PublishIntent,
    url: str,
    headers: dict[str, str],
    *,
    fields: tuple[str, str],
    platform: str,
    whose: str,
) -> Search:
    """Look for the post among the objects at `url` since it could first have gone out,
    following the cursors; `fields` names each object's text and permalink."""
    since: datetime = intent.since() - SKEW
    text_field, link_field = fields
    listing = Listing()
    params = {"fields": f"id,{text_field},{link_field}", "limit": str(PAGE), "since": str(int(since.timestamp()))}
    more = True
    while more and listing.next_page():
        answer = await http.request("GET", url, headers=headers, params=params)
        if isinstance(answer, Observed) or answer.status != 200:
            raise lookup_failed(platform, answer)
        for item in answer.body.get("data", []):
            listing.add(str(item["id"]), str(item.get(text_field, "")), None, item.get(link_field))
        paging = answer.body.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        more = bool(after and paging.get("next"))
        params = {**params, "after": str(after)}
    found = match_parts(intent, listing, fingerprint)
    how = (
        f"read the {whose}'s {listing.count} posts since {since.isoformat()} in {listing.pages} pages"
        if not more
        else f"the {whose} has more posts since {since.isoformat()} than a look reads ({listing.count})"
    )
    return Search(found=found, complete=not more, how=how)
