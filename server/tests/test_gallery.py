"""The gallery API over real HTTP: search, stars, boards, zip downloads, soft delete with undo and
purge, tenant isolation, validation; key expiry; the bearer scheme in the OpenAPI document."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import UTC, date, datetime, timedelta

import httpx

SEEDED = [
    {"prompt": "a lighthouse at dawn", "model": "dall-e-3", "metadata": {"team": "north"}},
    {"prompt": "a fox in the snow", "model": "flux-schnell", "seed": 42, "metadata": {"team": "south"}},
    {"prompt": "a neon city street", "model": "stable-diffusion", "seed": 7},
]


async def _seed(api: httpx.AsyncClient) -> list[dict]:
    made = []
    for body in SEEDED:
        response = await api.post("/api/v1/generate", json=body)
        assert response.status_code == 200, response.text
        made.append(response.json())
    return made


async def _ids(api: httpx.AsyncClient, **params: object) -> list[str]:
    response = await api.get("/api/v1/gallery", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def test_gallery_search_by_prompt_model_seed_metadata_and_date(api: httpx.AsyncClient) -> None:
    lighthouse, fox, neon = await _seed(api)
    assert await _ids(api) == [neon["id"], fox["id"], lighthouse["id"]]
    assert await _ids(api, q="FOX") == [fox["id"]]
    assert await _ids(api, model="stable-diffusion") == [neon["id"]]
    assert await _ids(api, seed=42) == [fox["id"]]
    assert await _ids(api, **{"metadata.team": "north"}) == [lighthouse["id"]]
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert await _ids(api, since=f"{tomorrow}T00:00:00Z") == []
    # Paging: the cursor walks the whole gallery once.
    first = (await api.get("/api/v1/gallery", params={"limit": 2})).json()
    assert first["has_more"] and len(first["data"]) == 2
    rest = (await api.get("/api/v1/gallery", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [i["id"] for i in rest["data"]] == [lighthouse["id"]] and not rest["has_more"]
    # Bad input: a 422 naming the parameter.
    bad = await api.get("/api/v1/gallery", params={"seed": "-1"})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "seed"


async def test_stars_pin_and_filter(api: httpx.AsyncClient) -> None:
    _, fox, _ = await _seed(api)
    starred = await api.put(f"/api/v1/gallery/{fox['id']}/star")
    assert starred.status_code == 200 and starred.json()["starred"] is True
    assert await _ids(api, starred="true") == [fox["id"]]
    assert fox["id"] not in await _ids(api, starred="false")
    assert (await api.delete(f"/api/v1/gallery/{fox['id']}/star")).json()["starred"] is False
    assert await _ids(api, starred="true") == []


async def test_boards_default_create_rename_add_remove_filter(api: httpx.AsyncClient) -> None:
    lighthouse, fox, _ = await _seed(api)
    boards = (await api.get("/api/v1/boards")).json()["data"]
    assert [(b["name"], b["is_default"]) for b in boards] == [("Default", True)]
    default = boards[0]
    created = await api.post("/api/v1/boards", json={"name": "Moodboard"})
    assert created.status_code == 201, created.text
    board = created.json()
    taken = await api.post("/api/v1/boards", json={"name": "Moodboard"})
    assert taken.status_code == 422 and taken.json()["error"]["param"] == "name"
    blank = await api.post("/api/v1/boards", json={"name": "  "})
    assert blank.status_code == 422 and blank.json()["error"]["param"] == "name"
    renamed = await api.patch(f"/api/v1/boards/{board['id']}", json={"name": "Spring campaign"})
    assert renamed.json()["name"] == "Spring campaign"
    added = await api.post(f"/api/v1/boards/{board['id']}/items", json={"ids": [fox["id"], lighthouse["id"]]})
    assert added.status_code == 200 and added.json()["image_count"] == 2
    assert set(await _ids(api, board_id=board["id"])) == {fox["id"], lighthouse["id"]}
    item = (await api.get(f"/api/v1/gallery/{fox['id']}")).json()
    assert item["board_ids"] == [board["id"]]
    removed = await api.delete(f"/api/v1/boards/{board['id']}/items/{fox['id']}")
    assert removed.json()["image_count"] == 1
    assert await _ids(api, board_id=board["id"]) == [lighthouse["id"]]
    assert (await api.delete(f"/api/v1/boards/{default['id']}")).status_code == 422
    assert (await api.delete(f"/api/v1/boards/{board['id']}")).status_code == 200
    # The images stay in the gallery.
    assert lighthouse["id"] in await _ids(api)


async def test_concurrent_boards_of_one_name_make_one_board_and_no_500(api: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(*(api.post("/api/v1/boards", json={"name": "race"}) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [201] + [422] * 5
    listings = await asyncio.gather(*(api.get("/api/v1/boards") for _ in range(4)))
    for listing in listings:
        names = [b["name"] for b in listing.json()["data"]]
        assert names.count("Default") == 1 and names.count("race") == 1


async def _image_bytes(api: httpx.AsyncClient, generation: dict) -> list[bytes]:
    return [(await api.get(image["url"])).content for image in generation["images"]]


async def test_board_and_selection_download_as_zip_with_the_apis_bytes(api: httpx.AsyncClient) -> None:
    lighthouse, fox, neon = await _seed(api)
    board = (await api.post("/api/v1/boards", json={"name": "zip me"})).json()
    await api.post(f"/api/v1/boards/{board['id']}/items", json={"ids": [fox["id"], neon["id"]]})
    response = await api.get(f"/api/v1/boards/{board['id']}/download")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="zip-me.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == sorted([f"{fox['id']}-0.png", f"{neon['id']}-0.png"])
    for generation in (fox, neon):
        assert archive.read(f"{generation['id']}-0.png") == (await _image_bytes(api, generation))[0]

    selection = await api.post("/api/v1/gallery/download", json={"ids": [lighthouse["id"]]})
    assert selection.status_code == 200
    picked = zipfile.ZipFile(io.BytesIO(selection.content))
    assert picked.read(f"{lighthouse['id']}-0.png") == (await _image_bytes(api, lighthouse))[0]
    empty = await api.post("/api/v1/gallery/download", json={"ids": []})
    assert empty.status_code == 422 and empty.json()["error"]["param"] == "ids"
    unknown = await api.post("/api/v1/gallery/download", json={"ids": ["gen_nope"]})
    assert unknown.status_code == 404


async def test_delete_hides_undo_restores_then_purge_removes_files_but_keeps_spend(start_server) -> None:
    server = await start_server(gallery_undo_seconds=0)
    key = await server.create_key()
    services = server.app.state.services
    async with server.client(key) as api:
        lighthouse, fox, _ = await _seed(api)
        board = (await api.get("/api/v1/boards")).json()["data"][0]
        await api.post(f"/api/v1/boards/{board['id']}/items", json={"ids": [fox["id"]]})
        usage_before = (await api.get("/api/v1/usage")).json()

        deleted = await api.delete(f"/api/v1/gallery/{fox['id']}")
        assert deleted.status_code == 200 and deleted.json()["deleted"] is True
        assert fox["id"] not in await _ids(api)
        assert (await api.get(f"/api/v1/gallery/{fox['id']}")).status_code == 404
        restored = await api.post(f"/api/v1/gallery/{fox['id']}/restore")
        assert restored.status_code == 200 and restored.json()["board_ids"] == [board["id"]]
        assert fox["id"] in await _ids(api)

        for image in fox["images"]:  # thumbnails are stored once asked for; the purge removes them too
            assert (await api.get(image["thumbnail_url"])).status_code == 200
        await api.delete(f"/api/v1/gallery/{fox['id']}")
        image_keys = [
            httpx.URL(image[field]).path.removeprefix("/api/v1/images/")
            for image in fox["images"]
            for field in ("url", "thumbnail_url")
        ]
        assert image_keys and all(services.storage.local_path(k).is_file() for k in image_keys)
        assert await services.gallery.purge_due() == 1
        assert not any(services.storage.local_path(k).exists() for k in image_keys)
        assert (await api.get(fox["image_url"])).status_code == 404
        gone = await api.post(f"/api/v1/gallery/{fox['id']}/restore")
        assert gone.status_code == 404 and "cannot be restored" in gone.json()["error"]["message"]
        # Spend history is kept: usage is unchanged, the generation itself still answers.
        assert (await api.get("/api/v1/usage")).json()["total_cost"] == usage_before["total_cost"]
        assert (await api.get(f"/api/v1/generations/{fox['id']}")).json()["cost"] == fox["cost"]
        principal = await services.keys.authenticate(key)
        trail = await services.gallery.audit_trail(principal, fox["id"])
        assert [e.action for e in trail] == [
            "gallery.delete",
            "gallery.restore",
            "gallery.delete",
            "gallery.purge",
        ]
        assert trail[0].actor == principal.subject and trail[-1].actor == "system"
        # The other generation was never touched.
        assert lighthouse["id"] in await _ids(api)


async def test_another_projects_generation_and_board_are_404(server) -> None:
    mine = await server.create_key(project="alpha")
    theirs = await server.create_key(project="beta")
    async with server.client(mine) as api, server.client(theirs) as other:
        generation = (await api.post("/api/v1/generate", json=SEEDED[0])).json()
        board = (await api.post("/api/v1/boards", json={"name": "private"})).json()
        gid, bid = generation["id"], board["id"]
        assert (await other.get(f"/api/v1/gallery/{gid}")).status_code == 404
        assert (await other.put(f"/api/v1/gallery/{gid}/star")).status_code == 404
        assert (await other.delete(f"/api/v1/gallery/{gid}")).status_code == 404
        assert (await other.post(f"/api/v1/gallery/{gid}/restore")).status_code == 404
        assert (await other.post("/api/v1/gallery/download", json={"ids": [gid]})).status_code == 404
        assert (await other.get(f"/api/v1/boards/{bid}/download")).status_code == 404
        assert (await other.patch(f"/api/v1/boards/{bid}", json={"name": "x"})).status_code == 404
        assert (await other.get("/api/v1/gallery", params={"board_id": bid})).status_code == 404
        own_board = (await other.post("/api/v1/boards", json={"name": "theirs"})).json()
        add = await other.post(f"/api/v1/boards/{own_board['id']}/items", json={"ids": [gid]})
        assert add.status_code == 404
        assert await _ids(other) == []
        # Still there for its owner.
        assert (await api.get(f"/api/v1/gallery/{gid}")).status_code == 200


async def test_read_only_key_cannot_change_the_gallery(server) -> None:
    owner = await server.create_key()
    reader = await server.create_key(scopes=("read",))
    async with server.client(owner) as api, server.client(reader) as read_only:
        generation = (await api.post("/api/v1/generate", json=SEEDED[0])).json()
        assert (await read_only.get("/api/v1/gallery")).status_code == 200
        assert (await read_only.put(f"/api/v1/gallery/{generation['id']}/star")).status_code == 403
        assert (await read_only.delete(f"/api/v1/gallery/{generation['id']}")).status_code == 403
        assert (await read_only.post("/api/v1/boards", json={"name": "no"})).status_code == 403


async def test_key_expiry_is_enforced_and_a_key_cannot_outlive_its_creator(server) -> None:
    admin = await server.create_key()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with server.client(admin) as api:
        past = await api.post("/api/v1/keys", json={"name": "old", "expires_at": "2001-01-01T00:00:00Z"})
        assert past.status_code == 422 and past.json()["error"]["param"] == "expires_at"
        created = await api.post(
            "/api/v1/keys", json={"name": "brief", "expires_at": tomorrow.isoformat(), "scopes": ["admin"]}
        )
        assert created.status_code == 201, created.text
        brief = created.json()
        assert datetime.fromisoformat(brief["expires_at"]) == tomorrow
        listed = {k["id"]: k for k in (await api.get("/api/v1/keys")).json()["data"]}
        assert datetime.fromisoformat(listed[brief["id"]]["expires_at"]) == tomorrow
    async with server.client(brief["key"]) as child:
        assert (await child.get("/api/v1/models")).status_code == 200
        later = (tomorrow + timedelta(days=1)).isoformat()
        outlive = await child.post("/api/v1/keys", json={"name": "x", "expires_at": later})
        assert outlive.status_code == 403 and outlive.json()["error"]["param"] == "expires_at"
        inherited = (await child.post("/api/v1/keys", json={"name": "y"})).json()
        assert datetime.fromisoformat(inherited["expires_at"]) == tomorrow
    # A key past its expiry is refused (made with a short life; waited for on the server's clock).
    soon = datetime.now(UTC) + timedelta(seconds=1)
    short = await server.create_key(expires_at=soon)
    await asyncio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.05)
    async with server.client(short) as expired:
        refused = await expired.get("/api/v1/models")
    assert refused.status_code == 401 and "expired" in refused.json()["error"]["message"]


async def test_openapi_declares_bearer_scheme_and_gallery_operations(server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert schema["paths"]["/api/v1/gallery"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in schema["paths"]["/api/v1/images/{shard}/{rest}"]["get"]
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {
        "searchGallery",
        "starGalleryItem",
        "deleteGalleryItem",
        "restoreGalleryItem",
        "downloadGalleryItems",
        "listBoards",
        "createBoard",
        "renameBoard",
        "addBoardItems",
        "removeBoardItem",
        "downloadBoard",
    } <= operations


async def test_a_board_named_in_any_script_downloads_with_an_ascii_and_a_utf8_file_name(
    api: httpx.AsyncClient,
) -> None:
    board = (await api.post("/api/v1/boards", json={"name": "躝 Ideas ünd more"})).json()
    answer = await api.get(f"/api/v1/boards/{board['id']}/download")
    assert answer.status_code == 200
    disposition = answer.headers["content-disposition"]
    assert 'filename="--Ideas--nd-more.zip"' in disposition
    assert "filename*=UTF-8''%E8%BA%9D%20Ideas%20%C3%BCnd%20more.zip" in disposition
    assert zipfile.ZipFile(io.BytesIO(answer.content)).namelist() == [] or answer.content


async def test_the_allow_header_of_a_literal_path_names_only_its_own_methods(api: httpx.AsyncClient) -> None:
    answer = await api.request("OPTIONS", "/api/v1/gallery/download")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"  # not GET/DELETE of /gallery/{generation_id}
