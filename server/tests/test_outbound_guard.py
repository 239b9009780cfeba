"""The outbound guard: strict URL parsing, address refusals, resolution and pinning."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from orchestrator.outbound.guard import (
    PinnedTarget,
    Policy,
    check_url,
    outbound_client,
    pinned_stream,
    read_capped,
    resolve_target,
)
from orchestrator.outbound.targets import TargetRefused, parse_target

PUBLIC_ONLY = Policy(allow_private=False, private_setting="ORCHESTRATOR_X_ALLOW_PRIVATE")
PRIVATE_OK = Policy(allow_private=True, private_setting="ORCHESTRATOR_X_ALLOW_PRIVATE")


@pytest.mark.parametrize(
    "url",
    [
        "http://1.1.1.1/x\ty",
        "http://1.1.1.1/x\r\nHost: evil",
        "http://1.1.1.1/x\ny",
        "http://1.1.1.1/x\x00y",
        "http://1.1.1.1/x\x7fy",
        "http://1.1.1.1/x y",
        "http://1.1.1.1/x\u200by",  # zero-width space
        "http://1.1.1.1/x\u2028y",  # line separator
        "http://1.1.\t1.1/",
        "http\t://1.1.1.1/",
        "http://1.1.1.1/?q=\x85",  # C1 next line
    ],
)
def test_control_whitespace_and_invisible_characters_are_refused_anywhere(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        parse_target(url)
    assert "control" in refused.value.message("url") and refused.value.message("url").startswith("url ")


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://example.com/", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://example.com/#top", "fragment"),
        ("http://example.com:0/", "port"),
        ("http://example.com:99999/", "valid URL"),
        ("http:///path", "host"),
        ("http://[::1%25eth0]/", "zone"),
        ("http://" + "a" * 64 + ".example.com/", "valid DNS name"),
        ("http://" + ".".join(["a" * 63] * 4) + "/", "DNS name"),
        ("http://a..example.com/", "DNS name"),
        ("http://under_score.example.com/", "DNS name"),
        ("http://1.2.3.4.5/", "IPv4"),
        ("http://256.1.1.1/", "IPv4"),
        ("http://" + "x" * 2100 + ".com/", "2048"),
    ],
)
def test_malformed_urls_are_refused_with_the_rule(url: str, rule: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        parse_target(url)
    assert rule in refused.value.message("url")


def test_urls_are_normalised_idna_host_lowercase_and_percent_encoded_path() -> None:
    target = parse_target("HTTPS://Bücher.Example./ä/b?q=ü&x=1")
    assert target.url == "https://xn--bcher-kva.example/%C3%A4/b?q=%C3%BC&x=1"
    assert parse_target("http://example.com").url == "http://example.com/"
    assert parse_target("http://example.com:8080/a%20b").url == "http://example.com:8080/a%20b"
    assert parse_target("http://[2606:4700::1111]:8443/").host_header == "[2606:4700::1111]:8443"


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://017700000001/", "127.0.0.1"),
    ],
)
def test_every_ipv4_spelling_is_read_as_the_address_it_reaches(url: str, address: str) -> None:
    assert str(parse_target(url).address) == address
    with pytest.raises(TargetRefused):
        check_url(url, PUBLIC_ONLY)


@pytest.mark.parametrize(
    "host",
    [
        "[64:ff9b::7f00:1]",  # NAT64 well-known prefix, 127.0.0.1
        "[64:ff9b::808:808]",  # NAT64 of a public address: still refused
        "[64:ff9b:1::a00:1]",  # NAT64 local-use prefix
        "[2002:7f00:1::]",  # 6to4
        "[::127.0.0.1]",  # IPv4-compatible
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:0:127.0.0.1]",  # IPv4-translated
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
        "[::1]",
        "[fc00::1]",
        "[fe80::1]",
        "[fec0::1]",
        "[2001:db8::1]",
        "10.0.0.7",
        "100.64.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "192.0.0.170",
        "192.168.1.1",
        "198.18.0.1",
    ],
)
def test_private_and_ipv4_reaching_addresses_are_refused_naming_the_setting(host: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        check_url(f"http://{host}/hook", PUBLIC_ONLY)
    assert "ORCHESTRATOR_X_ALLOW_PRIVATE=true" in refused.value.message("url")
    check_url(f"http://{host}/hook", PRIVATE_OK)  # the operator may allow them


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1", "[::]", "[ff02::1]"]
)
def test_unspecified_multicast_and_reserved_addresses_are_refused_even_when_private_is_allowed(
    host: str,
) -> None:
    with pytest.raises(TargetRefused) as refused:
        check_url(f"http://{host}/", PRIVATE_OK)
    assert refused.value.setting is None  # no setting allows them


@pytest.mark.parametrize("host", ["1.1.1.1", "[2606:4700:4700::1111]", "8.8.8.8"])
def test_public_addresses_pass(host: str) -> None:
    assert check_url(f"https://{host}/hook", PUBLIC_ONLY).address is not None


async def test_a_name_is_refused_if_any_address_it_resolves_to_is_private() -> None:
    with pytest.raises(TargetRefused) as refused:
        await resolve_target(parse_target("http://localhost:9/"), PUBLIC_ONLY)
    assert "'localhost' resolves to" in refused.value.reason
    pinned = await resolve_target(parse_target("http://localhost:9/"), PRIVATE_OK)
    assert pinned.address.is_loopback


async def test_the_connection_goes_to_the_pinned_address_with_the_names_host_header() -> None:
    """The name is never looked up again: the request reaches the address that was checked
    (127.0.0.2 here, which `localhost` does not resolve to), carrying the name as Host."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            self.rfile.read(int(self.headers["content-length"]))
            seen.append(self.headers["host"])
            self.send_response(200)
            self.send_header("content-length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.2", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert "127.0.0.2" not in {i[4][0] for i in socket.getaddrinfo("localhost", port)}
        target = parse_target(f"http://localhost:{port}/hook")
        pinned = PinnedTarget(target, ipaddress.ip_address("127.0.0.2"))
        async with (
            outbound_client("test") as client,
            asyncio.timeout(10),
            pinned_stream(client, "POST", pinned, content=b"{}", step_seconds=5) as response,
        ):
            body, more = await read_capped(response, 3)
        assert response.status_code == 200 and (body, more) == (b"hel", True)
        assert seen == [f"localhost:{port}"]
    finally:
        server.shutdown()
        server.server_close()


async def test_outbound_client_ignores_proxy_settings_and_follows_no_redirects() -> None:
    async with outbound_client("test") as client:
        assert client.follow_redirects is False
        assert client._trust_env is False  # noqa: SLF001 - a proxy would resolve the name again
