"""Media over HTTP on both stores: a multipart upload stored once by content, its facts read by
Pillow, alt text changed, media in use refused deletion, other workspaces kept out, files
checked against each platform's limits at schedule time, and a signed URL that serves the
file to a platform and nothing else."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests import media
from tests.e2e.conftest import Api, post_body, run_api


async def upload(api: Api, data: bytes, name: str = "photo.png", alt: str | None = None, **kw: Any) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    if alt is not None:
        form.add_field("alt_text", alt)
    headers = {"Authorization": f"Bearer {kw.get('key') or api.key}", "Idempotency-Key": name + str(len(data))}
    async with api.session.post(api.url("/media", kw.get("workspace")), data=form, headers=headers) as answer:
        return answer.status, await answer.json(content_type=None)


def test_an_upload_is_inspected_and_stored_once(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        picture = media.image(1200, 900, fmt="PNG")
        status, first = await upload(api, picture, alt="A lighthouse")
        assert status == 201, first
        assert (first["width"], first["height"], first["kind"], first["mime"]) == (1200, 900, "image", "image/png")
        assert first["alt_text"] == "A lighthouse" and len(first["sha256"]) == 64
        status, again = await upload(api, picture, name="copy.png")
        assert status == 201 and again["id"] == first["id"]  # the same bytes are the same media
        status, listing, _ = await api.call("GET", "/media")
        assert [item["id"] for item in listing["items"]] == [first["id"]]
        status, gif = await upload(api, media.animated_gif(), name="moving.gif")
        assert status == 201 and gif["kind"] == "gif"
        status, changed, _ = await api.call("PATCH", f"/media/{first['id']}", {"alt_text": "A lighthouse at noon"})
        assert status == 200 and changed["alt_text"] == "A lighthouse at noon"

    run_api(store_url, scenario)


def test_bytes_that_are_no_picture_are_refused_with_a_code(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, body = await upload(api, b"%PDF-1.4 not a picture", name="report.pdf")
        assert status == 422 and body["code"] == "media_unreadable" and body["field"] == "file", body
        status, listing, _ = await api.call("GET", "/media")
        assert listing["items"] == []

    run_api(store_url, scenario)


def test_a_file_part_that_is_itself_multipart_is_refused_with_a_code(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        picture = media.image(40, 30, fmt="PNG")
        body = (
            b'--outer\r\nContent-Disposition: form-data; name="file"; filename="nested.png"\r\n'
            b"Content-Type: multipart/mixed; boundary=inner\r\n\r\n"
            b"--inner\r\nContent-Type: image/png\r\n\r\n" + picture + b"\r\n--inner--\r\n"
            b'--outer\r\nContent-Disposition: form-data; name="alt_text"\r\n\r\nA picture\r\n--outer--\r\n'
        )
        headers = {
            "Authorization": f"Bearer {api.key}",
            "Idempotency-Key": "nested",
            "Content-Type": "multipart/form-data; boundary=outer",
        }
        async with api.session.post(api.url("/media"), data=body, headers=headers) as answer:
            status, refused = answer.status, await answer.json(content_type=None)
        assert status == 422 and refused["field"] == "file" and refused["code"], refused
        status, listing, _ = await api.call("GET", "/media")
        assert listing["items"] == []

    run_api(store_url, scenario)


def test_media_in_use_cannot_be_deleted_and_unused_media_can(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, used = await upload(api, media.image(shade=1), alt="Used")
        _, spare = await upload(api, media.image(shade=2), name="spare.png", alt="Spare")
        content = {"text": "With a picture", "media": [{"ref": used["id"]}]}
        status, post, _ = await api.call("POST", "/posts", post_body(content=content))
        assert status == 201, post
        status, refusal, _ = await api.call("DELETE", f"/media/{used['id']}")
        assert (status, refusal["code"], refusal["field"]) == (409, "media_in_use", "media_id"), refusal
        status, _, _ = await api.call("DELETE", f"/media/{spare['id']}")
        assert status == 200
        status, gone, _ = await api.call("GET", f"/media/{spare['id']}")
        assert (status, gone["code"]) == (404, "media_not_found")
        await api.call("POST", f"/posts/{post['id']}/cancel", {})
        status, _, _ = await api.call("DELETE", f"/media/{used['id']}")
        assert status == 200  # a canceled post no longer holds its media

    run_api(store_url, scenario)


def test_another_workspace_cannot_see_or_use_the_media(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, mine = await upload(api, media.image(shade=3), alt="Mine")
        other, other_key = api.ctx.workspaces.create("Rival")
        status, body, _ = await api.call("GET", f"/media/{mine['id']}", key=other_key, workspace=str(other))
        assert (status, body["code"]) == (404, "media_not_found")
        content = {"text": "Borrowed", "media": [{"ref": mine["id"], "alt_text": "Borrowed"}]}
        status, body, _ = await api.call(
            "POST", "/posts", post_body(content=content), key=other_key, workspace=str(other)
        )
        assert status == 422 and body["problems"][0]["code"] == "media_not_found", body

    run_api(store_url, scenario)


def test_files_are_checked_against_each_platform_naming_part_field_and_limit(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, tall = await upload(api, media.image(400, 1200, fmt="JPEG"), name="tall.jpg", alt="A tall tower")
        _, bare = await upload(api, media.image(shade=4), name="bare.png")
        instagram = post_body(platform="instagram", content={"text": "Tall", "media": [{"ref": tall["id"]}]})
        status, body, _ = await api.call("POST", "/posts", instagram)
        assert status == 422 and body["code"] == "content_invalid", body
        [problem] = [p for p in body["problems"] if p["code"] == "aspect_ratio"]
        assert problem["part"] == 1 and problem["field"] == "media[0].aspect"
        assert "1.91:1" in problem["message"]
        assert "Instagram" in problem["message"]
        no_alt = post_body(content={"text": "Bare", "media": [{"ref": bare["id"]}]})
        status, body, _ = await api.call("POST", "/posts", no_alt)
        assert status == 422 and [p["code"] for p in body["problems"]] == ["alt_text_missing"], body
        too_long = post_body(
            platform="x", content={"text": "Long alt", "media": [{"ref": bare["id"], "alt_text": "a" * 1001}]}
        )
        status, body, _ = await api.call("POST", "/posts", too_long)
        assert status == 422 and body["problems"][0]["limit"] == 1000, body
        text_only = post_body(platform="instagram", content={"text": "No picture"})
        status, body, _ = await api.call("POST", "/posts", text_only)
        assert status == 422 and body["problems"][0]["code"] == "media_required", body

    run_api(store_url, scenario)


def test_a_signed_url_serves_the_file_and_a_forged_one_is_404(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        picture = media.image(shade=6)
        _, item = await upload(api, picture, alt="Served")
        signed = api.ctx.media_links().url(api.workspace, item["id"])
        url = api.root + signed[signed.index("/media/") :]  # the path, on this test's server
        async with api.session.get(url) as answer:
            assert answer.status == 200 and await answer.read() == picture
            assert answer.headers["Content-Type"] == "image/png"
        async with api.session.get(url[:-3] + "AAA") as answer:
            assert answer.status == 404 and (await answer.json())["code"] == "not_found"

    run_api(store_url, scenario)


def test_a_url_that_names_no_host_is_refused_not_fetched(store_url: str) -> None:
    """Found by the long fuzz run: a host with an empty label made the resolver raise (500)."""

    async def scenario(api: Api) -> None:
        for url in ("https://.exe", "https://a..example/x.png", "https://" + "a" * 64 + ".example/x.png"):
            status, body, _ = await api.call("POST", "/media", {"url": url, "alt_text": "x"})
            assert (status, body["code"], body["field"]) == (422, "target_refused", "url"), (url, body)

    run_api(store_url, scenario)
