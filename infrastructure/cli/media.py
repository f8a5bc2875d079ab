"""`herald media add|list|show|describe|delete`: the workspace's media library."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.errors import HeraldError

if TYPE_CHECKING:
    from services.media import MediaView


class FileUnreadable(HeraldError):
    code = "file_unreadable"
    field = "file"


def register(commands: Any) -> None:
    media = commands.add_parser("media", help="add, describe and delete pictures and videos")
    actions = media.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="add a file to the library (the same bytes are kept once)",
        description="Inspects the file (Pillow for images, ffprobe for video), keeps it by the hash of its "
        "bytes, and prints its id: posts refer to it as a media ref.",
    )
    add.add_argument("file", help="a JPEG, PNG, GIF or WebP image, or an MP4/MOV video")
    add.add_argument("--alt", help="the alt text, used where a post gives none (required for images at scheduling)")
    _common(add)
    add.set_defaults(run=_add)

    listing = actions.add_parser("list", help="the library's files")
    _common(listing)
    listing.set_defaults(run=_list)

    show = actions.add_parser("show", help="one file's facts")
    show.add_argument("media_id")
    _common(show)
    show.set_defaults(run=_show)

    describe = actions.add_parser("describe", help="set a file's alt text")
    describe.add_argument("media_id")
    describe.add_argument("--alt", required=True, help="the new alt text ('' removes it)")
    _common(describe)
    describe.set_defaults(run=_describe)

    delete = actions.add_parser("delete", help="delete a file no post that may still go out uses")
    delete.add_argument("media_id")
    delete.add_argument("--workspace", default="default")
    delete.set_defaults(run=_delete)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", default="default")
    parser.add_argument("--json", action="store_true", help="print for machines")


def _library() -> Any:
    from infrastructure.bootstrap import bootstrap

    return bootstrap().media


def _add(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as problem:
        raise FileUnreadable(f"{args.file}: {problem.strerror or problem}") from None
    view = _library().add(args.workspace, data, filename=path.name, alt_text=args.alt)
    return _print([view], args.json)


def _list(args: argparse.Namespace) -> int:
    return _print(_library().all(args.workspace), args.json)


def _show(args: argparse.Namespace) -> int:
    return _print([_library().get(args.workspace, args.media_id)], args.json)


def _describe(args: argparse.Namespace) -> int:
    return _print([_library().describe(args.workspace, args.media_id, args.alt or None)], args.json)


def _delete(args: argparse.Namespace) -> int:
    from infrastructure.cli.render import out

    _library().delete(args.workspace, args.media_id)
    out.print(f"deleted {args.media_id}")
    return 0


def _print(views: list[MediaView], as_json: bool) -> int:
    import orjson
    from rich.text import Text

    from infrastructure.cli.render import out

    if as_json:
        print(orjson.dumps([v.model_dump(mode="json") for v in views], option=orjson.OPT_INDENT_2).decode())
        return 0
    for view in views:  # two lines each: the id and the facts, then the file and its alt text (80 columns)
        shape = f"{view.width}x{view.height}" + (f", {view.duration:.1f} s" if view.duration else "")
        out.print(Text(f"{view.id}  {view.kind} {view.mime.split('/')[1]} {shape}  {view.size:,} B"))
        out.print(Text(f"  {view.filename} · alt: {view.alt_text or '(none)'}"), overflow="fold")
    if not views:
        out.print("no media in this workspace yet: herald media add FILE --alt TEXT")
    return 0
