"""`herald post …`: schedule, draft, publish now, show, edit, reschedule and cancel."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import HeraldError
from domain.platform import Platform

if TYPE_CHECKING:
    from domain.content import Content
    from infrastructure.bootstrap import Herald


class RedriveArguments(HeraldError):
    code = "redrive_arguments"
    field = "post_id"


class InvalidPostId(HeraldError):
    code = "invalid_post_id"
    field = "post_id"


def register(commands: Any) -> None:
    post = commands.add_parser("post", help="create, change and inspect posts")
    actions = post.add_subparsers(dest="action", metavar="ACTION", required=True)

    for name, helptext, when in (
        ("schedule", "queue a new post for a time", True),
        ("draft", "save a new post without a time", False),
        ("publish-now", "queue a new post due immediately", False),
        ("queue", "put a new post in its account's next free queue slot (herald accounts queue)", False),
    ):
        parser = actions.add_parser(name, help=helptext, description=helptext)
        parser.add_argument(
            "--account",
            required=True,
            help="the connected account to post from (any name when HERALD_PLATFORM_URL names a generic platform)",
        )
        parser.add_argument("--platform", required=True, choices=[p.value for p in Platform], help="target")
        _content_arguments(parser, required=True)
        parser.add_argument("--external-id", help="your own id for this post, for look-ups")
        parser.add_argument("--category", help="queues never put two posts of one category back to back")
        if when:
            _time_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the post as JSON")
        parser.set_defaults(run=_create, mode=name)

    show = actions.add_parser("show", help="a post's state and its events")
    show.add_argument("post_id")
    show.add_argument("--json", action="store_true", help="print state and events as JSON")
    show.set_defaults(run=_show)

    edit = actions.add_parser("edit", help="replace a post's content (before it is frozen)")
    edit.add_argument("post_id")
    _content_arguments(edit, required=True)
    edit.set_defaults(run=_edit)

    queue = actions.add_parser("schedule-draft", help="queue a draft for a time, checked as a new post is")
    queue.add_argument("post_id")
    _time_arguments(queue)
    queue.add_argument("--move-if-full", action="store_true", help="take the next free instant if the window is full")
    queue.set_defaults(run=_schedule_draft)

    for verb, text in (("approve", "let a post that waits for approval go"), ("reject", "send it back to draft")):
        decide = actions.add_parser(verb, help=text)
        decide.add_argument("post_id")
        decide.add_argument("--comment", default="", required=verb == "reject", help="why, for the timeline")
        decide.set_defaults(run=_decide, verb=verb)

    redrive = actions.add_parser(
        "redrive",
        help="send failed posts again, as new posts with their own keys",
        description="Only a failed post, which Herald records only when it is proved not live on the "
        "platform. The new post links to the failed one, and the failed one to it, in both timelines. "
        "Give one POST_ID, or --reason (and --since) to send again every failed post for that reason.",
    )
    redrive.add_argument("post_id", nargs="?", help="one failed post")
    redrive.add_argument("--reason", help="every failed post with this failure reason (retries_exhausted…)")
    redrive.add_argument("--since", help="with --reason: only posts due at or after this ISO 8601 instant")
    redrive.add_argument("--at", help="when to send them (ISO 8601 with an offset; default: now)")
    redrive.add_argument("--workspace", default="default")
    redrive.set_defaults(run=_redrive)

    move = actions.add_parser("reschedule", help="move a queued post to a new time")
    move.add_argument("post_id")
    _time_arguments(move)
    move.set_defaults(run=_reschedule)

    settle = actions.add_parser(
        "settle",
        help="settle a post the reconciler could not: live on the platform, or not",
        description="For posts waiting for support (see herald attention): look at the account on the "
        "platform, then say what you saw. Recorded as an event naming you.",
    )
    settle.add_argument("post_id")
    seen = settle.add_mutually_exclusive_group(required=True)
    seen.add_argument("--live", metavar="REMOTE_ID", help="it is on the platform, with this id")
    seen.add_argument("--not-live", action="store_true", help="it is not on the platform: queue it again")
    settle.add_argument("--permalink", help="its address, when live")
    settle.add_argument("--note", required=True, help="what you checked, for the timeline")
    settle.set_defaults(run=_settle)

    cancel = actions.add_parser("cancel", help="cancel a draft, queued or held post")
    cancel.add_argument("post_id")
    cancel.add_argument("--reason", default="canceled by request", help="recorded in the event")
    cancel.set_defaults(run=_cancel)


def _content_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--text", required=required, help="the post's text")
    parser.add_argument(
        "--media",
        action="append",
        default=[],
        metavar="ID",
        help="a media id from `herald media add` (repeat, in order); its alt text is the library's",
    )
    parser.add_argument("--first-comment", metavar="TEXT", help="a comment sent once the post is live")


def _time_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", required=True, help="ISO 8601 time, with an offset or with --timezone")
    parser.add_argument("--timezone", help="IANA zone name for a local --at (Europe/Paris)")


def _content(args: argparse.Namespace) -> Content:
    from domain.content import Content, MediaRef

    return Content(
        text=args.text, media=tuple(MediaRef(ref=ref) for ref in args.media), first_comment=args.first_comment
    )


def _herald() -> Herald:
    from infrastructure.bootstrap import bootstrap

    return bootstrap()


def _instant(text: str, timezone: str | None) -> Any:
    from infrastructure.zones import parse_instant

    return parse_instant(text, timezone)


def _post_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidPostId(f"{text!r} is not a post id (a UUID)") from None


def _create(args: argparse.Namespace) -> int:
    import os

    herald = _herald()
    if not os.environ.get("HERALD_PLATFORM_URL"):  # no generic platform: only connected accounts
        herald.accounts.require("default", args.account, args.platform)
    common = dict(
        account=args.account,
        platform=args.platform,
        content=_content(args),
        external_id=args.external_id,
    )
    if args.mode == "schedule":
        at = _instant(args.at, args.timezone)
        post_id = herald.posts.schedule(**common, scheduled_at=at, category=args.category)
    elif args.mode == "queue":
        from domain.platform import Platform as Target

        post_id = herald.queues.add(
            "default",
            args.account,
            Target(args.platform),
            common["content"],
            category=args.category,
            external_id=args.external_id,
        )
    elif args.mode == "draft":
        post_id = herald.posts.draft(**common)
    else:
        post_id = herald.posts.publish_now(**common)
    return _print_post(herald, post_id, as_json=args.json)


def _show(args: argparse.Namespace) -> int:
    return _print_post(_herald(), _post_id(args.post_id), as_json=args.json)


def _edit(args: argparse.Namespace) -> int:
    herald = _herald()
    post_id = _post_id(args.post_id)
    herald.posts.edit_content(post_id, _content(args))
    return _print_post(herald, post_id)


def _reschedule(args: argparse.Namespace) -> int:
    herald = _herald()
    post_id = _post_id(args.post_id)
    herald.posts.reschedule(post_id, _instant(args.at, args.timezone))
    return _print_post(herald, post_id)


def _schedule_draft(args: argparse.Namespace) -> int:
    herald = _herald()
    post_id = _post_id(args.post_id)
    herald.posts.schedule_draft(
        post_id, _instant(args.at, args.timezone), when_full="move" if args.move_if_full else "refuse"
    )
    return _print_post(herald, post_id)


def _decide(args: argparse.Namespace) -> int:
    import getpass

    herald = _herald()
    post_id = _post_id(args.post_id)
    decide = herald.posts.approve if args.verb == "approve" else herald.posts.reject
    decide(post_id, actor=f"cli {getpass.getuser()}", comment=args.comment)
    return _print_post(herald, post_id)


def _redrive(args: argparse.Namespace) -> int:
    import getpass

    from infrastructure.cli.render import out

    if bool(args.post_id) == bool(args.reason):
        raise RedriveArguments("give one POST_ID, or --reason for every failed post with that reason")
    herald = _herald()
    when = _instant(args.at, None) if args.at else None
    actor = f"cli {getpass.getuser()}"
    if args.post_id:
        new_id = herald.posts.redrive(_post_id(args.post_id), actor=actor, scheduled_at=when)
        return _print_post(herald, new_id)
    since = _instant(args.since, None) if args.since else None
    done = refused = 0
    for post_id in herald.failed_posts(args.workspace, args.reason, since):
        try:
            new_id = herald.posts.redrive(post_id, actor=actor, scheduled_at=when)
        except HeraldError as refusal:  # already redriven, or changed meanwhile: say so, go on
            refused += 1
            out.print(f"{post_id}: {refusal.code}: {refusal}")
            continue
        done += 1
        out.print(f"{post_id} → {new_id}")
    out.print(f"{done} posts sent again; {refused} refused")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    herald = _herald()
    post_id = _post_id(args.post_id)
    herald.posts.cancel(post_id, reason=args.reason)
    return _print_post(herald, post_id)


def _settle(args: argparse.Namespace) -> int:
    import getpass

    from domain.outcomes import RemotePost

    herald = _herald()
    post_id = _post_id(args.post_id)
    live = RemotePost(remote_id=args.live, permalink=args.permalink) if args.live else None
    herald.dispatch.settle(post_id, live=live, actor=f"cli {getpass.getuser()}", note=args.note)
    return _print_post(herald, post_id)


def _print_post(herald: Herald, post_id: UUID, *, as_json: bool = False) -> int:
    import orjson

    from infrastructure.cli.render import show_post

    post = herald.posts.get_post(post_id)
    records = herald.posts.history(post_id)
    if as_json:
        body = {
            "post": post.model_dump(mode="json"),
            "events": [record.model_dump(mode="json") for record in records],
        }
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    else:
        show_post(post, records)
    return 0
