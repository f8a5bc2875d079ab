"""Every route of the API in one list: method, path, handler, summary and bodies. The
OpenAPI document is generated from it, and where a 201's new resource lives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel

from infrastructure.api import accounts, evergreen, media, plans, posts, queues, rules, webhooks, workspace_settings
from infrastructure.api.evergreen_models import CreatePool, PoolAction, PoolList, PoolOut
from infrastructure.api.media_models import AddMediaFromUrl, Deleted, DescribeMedia, MediaList, MediaOut
from infrastructure.api.models import (
    AccountList,
    AccountOut,
    AttentionOut,
    CancelPost,
    ConnectAccount,
    CreatePost,
    Decision,
    DryRun,
    DryRunOut,
    ImportOut,
    PatchPost,
    PostOut,
    PostPage,
    Reconnect,
    Redrive,
    RedriveMany,
    RedriveManyOut,
    ScheduleDraft,
    Settle,
    TimelineOut,
)
from infrastructure.api.plan_models import (
    CreatePlan,
    CreateRule,
    EditedRuleOut,
    EditRule,
    PlanOut,
    QueueOut,
    ReorderQueue,
    RuleAction,
    RuleList,
    RuleOut,
    SetQueue,
    ShuffleQueue,
)
from infrastructure.api.webhook_models import AddEndpoint, EndpointList, EndpointOut, Removed
from infrastructure.api.workspace_settings import SetSettings, SettingsOut

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
W = "/v1/workspaces/{workspace_id}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None
    answers: dict[int, type[BaseModel]]
    query: tuple[str, ...] = ()
    description: str = ""
    rows: bool = False  # the body is a CSV or JSON file of rows (an import), not a JSON object


ROUTES = [
    Route(
        "POST",
        f"{W}/posts",
        posts.create,
        "Create a post: scheduled, draft, or publish-now",
        CreatePost,
        {201: PostOut},
    ),
    Route(
        "GET",
        f"{W}/posts",
        posts.list_posts,
        "List posts, by cursor",
        None,
        {200: PostPage},
        ("status", "account", "platform", "external_id", "scheduled_from", "scheduled_to", "reason", "cursor", "limit"),
        description="`status=failed&reason=retries_exhausted` lists the dead letter by reason (`reason` matches "
        "`failure_reason`); `scheduled_from` narrows it to posts due since an instant.",
    ),
    Route(
        "POST",
        f"{W}/redrives",
        posts.redrive_many,
        "Send again every failed post with one failure reason",
        RedriveMany,
        {200: RedriveManyOut},
        description="Each failed post of the workspace whose `failure_reason` is `reason` (and, with `since`, "
        "due at or after it), not sent again already, becomes a new post as POST …/posts/{id}/redrive makes "
        "it; at most `limit` per request (`more` says whether others wait). A post refused on its own is "
        "listed with its code and the rest go on.",
    ),
    Route("GET", f"{W}/posts/{{post_id}}", posts.get_post, "Read one post", None, {200: PostOut}),
    Route(
        "PATCH",
        f"{W}/posts/{{post_id}}",
        posts.patch_post,
        "Edit or reschedule (If-Match: version)",
        PatchPost,
        {200: PostOut},
    ),
    Route(
        "POST",
        f"{W}/posts/{{post_id}}/cancel",
        posts.cancel_post,
        "Cancel a draft, queued or held post",
        CancelPost,
        {200: PostOut},
        description="The post is kept, canceled, with its whole history: GET and /timeline still answer it. "
        "A post already claimed for sending can no longer be canceled (409).",
    ),
    Route(
        "POST",
        f"{W}/posts/{{post_id}}/schedule",
        posts.schedule_draft,
        "Schedule a draft",
        ScheduleDraft,
        {200: PostOut},
        description="Queues a draft for `scheduled_at`, checked as a new scheduled post is: its content "
        "against the platform, the time against the account's posting window. Only a draft (409 otherwise).",
    ),
    Route(
        "POST",
        f"{W}/posts/{{post_id}}/approve",
        posts.approve,
        "Approve a post that waits for approval",
        Decision,
        {200: PostOut},
        description="Needs a key with the `approve` scope. The post is queued for the time it asked for (now, "
        "for publish-now); a time that passed while it waited is refused (reject it and schedule anew).",
    ),
    Route(
        "POST",
        f"{W}/posts/{{post_id}}/reject",
        posts.reject,
        "Send a post that waits for approval back to draft",
        Decision,
        {200: PostOut},
        description="Needs a key with the `approve` scope; the comment shows in the post's timeline.",
    ),
    Route(
        "POST",
        f"{W}/posts/{{post_id}}/redrive",
        posts.redrive,
        "Send a failed post again, as a new post",
        Redrive,
        {201: PostOut},
        description="Only a failed post, which Herald records only when the platform cannot hold it; 409 "
        "`redrive_refused` otherwise (a post that may be live is never sent again), and for a post sent "
        "again already. The new post has its own publish key; each links to the other (`redrive_of`, "
        "`redriven_as`) and both timelines say so.",
    ),
    Route(
        "GET",
        f"{W}/posts/{{post_id}}/timeline",
        posts.timeline,
        "The post's support timeline",
        None,
        {200: TimelineOut},
        description="One row per event, oldest first. History is kept: a canceled, failed or "
        "delivered post's timeline still answers, in full.",
    ),
    Route(
        "GET",
        f"{W}/attention",
        posts.attention,
        "Posts held, or waiting for support to settle them",
        None,
        {200: AttentionOut},
    ),
    Route(
        "POST",
        f"{W}/posts/{{post_id}}/settle",
        posts.settle,
        "Settle a post the reconciler could not: live (with its remote id) or not",
        Settle,
        {200: PostOut},
    ),
    Route("GET", f"{W}/accounts", accounts.list_accounts, "List accounts", None, {200: AccountList}),
    Route("POST", f"{W}/accounts", accounts.connect, "Connect an account", ConnectAccount, {201: AccountOut}),
    Route("GET", f"{W}/accounts/{{name}}", accounts.get_account, "Read an account", None, {200: AccountOut}),
    Route(
        "POST",
        f"{W}/accounts/{{name}}/reconnect",
        accounts.reconnect,
        "Reconnect an account",
        Reconnect,
        {200: AccountOut},
    ),
    Route(
        "POST",
        f"{W}/accounts/{{name}}/disconnect",
        accounts.disconnect,
        "Disconnect an account",
        None,
        {200: AccountOut},
    ),
    Route(
        "POST", f"{W}/plans/dry-run", plans.dry_run, "Assess planned posts, writing nothing", DryRun, {200: DryRunOut}
    ),
    Route(
        "POST",
        f"{W}/webhooks",
        webhooks.add_endpoint,
        "Register a webhook endpoint (secret shown once)",
        AddEndpoint,
        {201: EndpointOut},
    ),
    Route("GET", f"{W}/webhooks", webhooks.list_endpoints, "List webhook endpoints", None, {200: EndpointList}),
    Route(
        "GET",
        f"{W}/webhooks/{{endpoint_id}}",
        webhooks.get_endpoint,
        "Read a webhook endpoint (its secret is never shown again)",
        None,
        {200: EndpointOut},
    ),
    Route(
        "DELETE",
        f"{W}/webhooks/{{endpoint_id}}",
        webhooks.remove_endpoint,
        "Remove a webhook endpoint",
        None,
        {200: Removed},
    ),
]
ROUTES += [
    Route(
        "POST",
        f"{W}/plans",
        plans.create_plan,
        "Fan out: one post per target under one plan id",
        CreatePlan,
        {201: PlanOut, 200: PlanOut},
        description="All the posts are made at once, or none. `plan_id` is yours to choose: sending it again "
        "answers the plan it already made (200). With `stagger`, posts of one account are kept apart and every "
        "post is moved by a few seconds, deterministically from the plan id.",
    ),
    Route(
        "POST",
        f"{W}/plans/import",
        plans.import_rows,
        "Import many posts from a CSV or JSON file: checked first, then all or none",
        None,
        {200: ImportOut},
        query=("dry_run", "partial"),
        description="The body is the file itself: `text/csv` with a header row, or `application/json` "
        "holding a list of row objects (up to 10,000 rows; larger files go through `herald import`). "
        "Columns: account, platform, text, scheduled_at, and optionally timezone, external_id, category, "
        "media (ids separated by ;) and key. Every row is checked before anything is written; each bad "
        "row is named with its line, field and reason (422 `import_invalid`, nothing written), unless "
        "`partial=true`. `dry_run=true` reports the plan (earliest, latest, counts, collisions, posting "
        "windows) and writes nothing. A row's post is made once: the same file again makes nothing twice.",
        rows=True,
    ),
    Route("GET", f"{W}/plans/{{plan_id}}", plans.get_plan, "A plan's posts and status", None, {200: PlanOut}),
    Route(
        "PUT",
        f"{W}/accounts/{{name}}/queue",
        queues.set_queue,
        "Set an account's queue: weekly slots in its zone, a gap and a daily cap",
        SetQueue,
        {200: QueueOut},
    ),
    Route("GET", f"{W}/accounts/{{name}}/queue", queues.get_queue, "An account's queue", None, {200: QueueOut}),
    Route(
        "PUT",
        f"{W}/accounts/{{name}}/queue/order",
        queues.reorder,
        "Reorder the posts waiting in an account's queue",
        ReorderQueue,
        {200: QueueOut},
        description="`order` names every waiting post once (see `waiting` in GET …/queue); the posts take "
        "the queue's slots in that order, each move a `Rescheduled` event on the post and a `Moved` event "
        "on the queue naming the key that asked. 409 `queue_order_mismatch` when the order leaves one out.",
    ),
    Route(
        "POST",
        f"{W}/accounts/{{name}}/queue/shuffle",
        queues.shuffle,
        "Shuffle the posts waiting in an account's queue",
        ShuffleQueue,
        {200: QueueOut},
        description="The same `seed` gives the same order; the seed is recorded in the queue's `Shuffled` event.",
    ),
    Route("POST", f"{W}/rules", rules.create, "Create a recurring rule", CreateRule, {201: RuleOut}),
    Route("GET", f"{W}/rules", rules.list_rules, "List recurring rules", None, {200: RuleList}),
    Route("GET", f"{W}/rules/{{rule_id}}", rules.get_rule, "Read a recurring rule", None, {200: RuleOut}),
    Route(
        "PATCH",
        f"{W}/rules/{{rule_id}}",
        rules.edit,
        "Edit a recurring rule: a new version",
        EditRule,
        {200: EditedRuleOut},
        description="Only the fields given change. Occurrences already made into posts keep them, unless "
        "`apply_to` is `future_materialised`: then those posts not yet sent follow the new version (content "
        "edited, time moved, canceled where the rule no longer has their target or date), in the same "
        "transaction, and the answer's `applied` says which.",
    ),
    Route("POST", f"{W}/rules/{{rule_id}}/pause", rules.pause, "Pause a rule", RuleAction, {200: RuleOut}),
    Route("POST", f"{W}/rules/{{rule_id}}/resume", rules.resume, "Resume a rule", RuleAction, {200: RuleOut}),
    Route(
        "DELETE",
        f"{W}/rules/{{rule_id}}",
        rules.delete,
        "Delete a rule (posts already made stay)",
        None,
        {200: RuleOut},
    ),
    Route(
        "GET", f"{W}/settings", workspace_settings.get_settings, "The workspace's settings", None, {200: SettingsOut}
    ),
    Route(
        "PUT",
        f"{W}/settings",
        workspace_settings.set_settings,
        "Set the workspace's settings: whether its posts wait for approval",
        SetSettings,
        {200: SettingsOut},
        description="With `approval`, every post scheduled in the workspace waits in `awaiting_approval` "
        "until a key with the `approve` scope approves or rejects it, unless its account was connected "
        "with its own `approval` setting (0 or 1), which wins. Other processes see a change within 5 s.",
    ),
    Route(
        "POST",
        f"{W}/evergreen",
        evergreen.create,
        "Create an evergreen pool",
        CreatePool,
        {201: PoolOut},
        description="Its items are recycled into the free slots of its accounts' queues, a day ahead, by the "
        "planner part of `herald serve`: the next item in rotation not used on the account within "
        "`min_interval_days` and never the one just used, each reuse a new post with the item's next "
        "variant. X refuses a text the account posted lately, so a pool feeding X needs two or more "
        "variants per item, each its own text (422 `variants_required` otherwise).",
    ),
    Route("GET", f"{W}/evergreen", evergreen.list_pools, "List evergreen pools", None, {200: PoolList}),
    Route("GET", f"{W}/evergreen/{{pool_id}}", evergreen.get_pool, "Read an evergreen pool", None, {200: PoolOut}),
    Route("POST", f"{W}/evergreen/{{pool_id}}/pause", evergreen.pause, "Pause a pool", PoolAction, {200: PoolOut}),
    Route("POST", f"{W}/evergreen/{{pool_id}}/resume", evergreen.resume, "Resume a pool", PoolAction, {200: PoolOut}),
    Route(
        "DELETE",
        f"{W}/evergreen/{{pool_id}}",
        evergreen.delete,
        "Delete a pool (posts already made stay)",
        None,
        {200: PoolOut},
    ),
    Route(
        "POST",
        f"{W}/media",
        media.add,
        "Add a file (multipart file + alt_text, or JSON url)",
        AddMediaFromUrl,
        {201: MediaOut},
    ),
    Route("GET", f"{W}/media", media.list_media, "List the media library", None, {200: MediaList}),
    Route("GET", f"{W}/media/{{media_id}}", media.get_media, "Read a media's facts", None, {200: MediaOut}),
    Route("PATCH", f"{W}/media/{{media_id}}", media.describe, "Set a media's alt text", DescribeMedia, {200: MediaOut}),
    Route(
        "DELETE",
        f"{W}/media/{{media_id}}",
        media.delete,
        "Delete a media (refused while a post that may still go out uses it)",
        None,
        {200: Deleted},
    ),
]
# where a 201's new resource can be read, from its answer's body
LOCATIONS: dict[tuple[str, str], Callable[[web.Request, dict[str, Any]], str]] = {
    ("POST", f"{W}/posts"): lambda request, body: f"{request.path}/{body['id']}",
    ("POST", f"{W}/accounts"): lambda request, body: f"{request.path}/{quote(str(body['name']), safe='')}",
    ("POST", f"{W}/webhooks"): lambda request, body: f"{request.path}/{body['endpoint_id']}",
    ("POST", f"{W}/media"): lambda request, body: f"{request.path}/{body['id']}",
    ("POST", f"{W}/rules"): lambda request, body: f"{request.path}/{body['id']}",
    ("POST", f"{W}/evergreen"): lambda request, body: f"{request.path}/{body['id']}",
    ("POST", f"{W}/plans"): lambda request, body: f"{request.path}/{body['id']}",
    ("POST", f"{W}/posts/{{post_id}}/redrive"): lambda request, body: f"{request.path.rsplit('/', 2)[0]}/{body['id']}",
}
# routes that record their idempotency key in the transaction saving what they create
# (PostgreSQL), for the bodies they say; the others record it apart (guards.py)
JOINS: dict[tuple[str, str], Callable[[Any], bool]] = {
    ("POST", f"{W}/posts"): posts.joins,
}
