"""Image preflight against a fake v2 registry on 127.0.0.1 (token challenge, tags, manifest types).

Nothing here leaves the machine: every request goes to the fake registry's port, and the test
fails if the checker ever asks for another host.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pulumi
import pytest

from infra.checks import images as image_check
from infra.checks.images import (
    DOCKER_LIST, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA2, OCI_INDEX, OCI_MANIFEST,
    Checker, ImageRef, parse_reference, pinned_images,
)
from infra.settings import parse_settings
from workloads.images import IMAGES, image

SERVICE = "fake-registry"


@pytest.fixture(autouse=True)
def _program_once_per_config(monkeypatch):
    """The command reads its images from the program: these tests share the session's evaluations."""
    import infra.offline
    from conftest import evaluate

    monkeypatch.setattr(infra.offline, "run_program", evaluate)


def manifest(kind: str, schema: int = 2, platforms=()) -> tuple[str, bytes]:
    body: dict = {"schemaVersion": schema, "mediaType": kind}
    if platforms:
        body["manifests"] = [{"digest": "sha256:0", "platform": {"os": o, "architecture": a}} for o, a in platforms]
    return kind, json.dumps(body).encode()


class FakeRegistry:
    """A registry that, like Docker Hub, wants a bearer token per repository."""

    def __init__(self, manifests: dict[tuple[str, str], tuple[str, bytes]], private=(), limited=(), basic=None,
                 flaky=()):
        self.manifests = manifests
        self.flaky = set(flaky)  # answers 503 once, like a registry behind a restarting proxy
        self.private = set(private)  # token granted, manifest still 401 (Docker Hub, gone repo)
        self.limited = set(limited)  # 429
        self.basic = basic  # (user, password): answer with a Basic challenge instead (ECR)
        self.requests: list[tuple[str, str, dict]] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.handle_request(body=False)

            def do_GET(self):
                self.handle_request(body=True)

            def handle_request(self, body: bool):
                url = urllib.parse.urlsplit(self.path)
                registry.requests.append((self.command, url.path, dict(self.headers)))
                if url.path == "/token":
                    query = urllib.parse.parse_qs(url.query)
                    assert query["service"] == [SERVICE], query
                    repo = query["scope"][0].split(":")[1]
                    return self.reply(200, "application/json", json.dumps({"token": f"tok-{repo}"}).encode(), body)
                m = url.path.removeprefix("/v2/").rpartition("/manifests/")
                repo, tag = m[0], m[2]
                if registry.basic:
                    import base64
                    good = "Basic " + base64.b64encode(":".join(registry.basic).encode()).decode()
                    if self.headers.get("Authorization") != good:
                        return self.reply(401, "application/json", b"{}", body,
                                          {"WWW-Authenticate": 'Basic realm="https://fake/"'})
                elif self.headers.get("Authorization") != f"Bearer tok-{repo}":
                    realm = f"http://127.0.0.1:{registry.port}/token"
                    return self.reply(401, "application/json", b"{}", body, {
                        "WWW-Authenticate": f'Bearer realm="{realm}",service="{SERVICE}",scope="repository:{repo}:pull"'})
                if repo in registry.flaky:
                    registry.flaky.discard(repo)
                    return self.reply(503, "text/plain", b"busy", body)
                if repo in registry.private:
                    return self.reply(401, "application/json", b'{"errors":[{"code":"UNAUTHORIZED"}]}', body)
                if repo in registry.limited:
                    return self.reply(429, "application/json", b'{"errors":[{"code":"TOOMANYREQUESTS"}]}', body)
                if (repo, tag) not in registry.manifests:
                    return self.reply(404, "application/json", b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', body)
                kind, data = registry.manifests[(repo, tag)]
                self.reply(200, kind, data, body)

            def reply(self, status, kind, data, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def results(registry: FakeRegistry, *refs: str, **kwargs) -> dict[str, image_check.Result]:
    checker = Checker(base_url=registry.base, **kwargs)
    return {ref: checker.check(parse_reference(ref)) for ref in refs}


GOOD = {
    ("seldonio/v2", "1"): manifest(DOCKER_SCHEMA2),
    ("seldonio/oci", "1"): manifest(OCI_MANIFEST),
    ("seldonio/list", "1"): manifest(DOCKER_LIST, platforms=[("linux", "arm64"), ("linux", "amd64")]),
    ("seldonio/ociindex", "1"): manifest(OCI_INDEX, platforms=[("linux", "amd64")]),
    ("seldonio/armonly", "1"): manifest(OCI_INDEX, platforms=[("linux", "arm64")]),
    ("seldonio/old", "1"): manifest(DOCKER_SCHEMA1_SIGNED, schema=1),
    ("seldonio/oldjson", "1"): manifest(DOCKER_SCHEMA1, schema=1),
    ("seldonio/plainjson", "1"): manifest("application/json", schema=1),
}


def test_schema2_oci_and_amd64_indexes_are_accepted():
    with FakeRegistry(GOOD) as reg:
        got = results(reg, "seldonio/v2:1", "seldonio/oci:1", "seldonio/list:1", "seldonio/ociindex:1")
    bad = {ref: r.detail for ref, r in got.items() if not r.ok}
    assert not bad, f"images with schema 2 / OCI manifests were reported bad: {bad}"


@pytest.mark.parametrize("ref", ["seldonio/old:1", "seldonio/oldjson:1", "seldonio/plainjson:1"])
def test_schema1_is_reported_as_refused_by_containerd2(ref):
    with FakeRegistry(GOOD) as reg:
        r = results(reg, ref)[ref]
    assert not r.ok, f"{ref} has a schema 1 manifest but passed the check"
    assert "schema 1" in r.detail and "containerd 2" in r.detail, f"{ref}: message does not say why: {r.detail}"


def test_index_without_linux_amd64_is_bad():
    with FakeRegistry(GOOD) as reg:
        r = results(reg, "seldonio/armonly:1")["seldonio/armonly:1"]
    assert not r.ok and "linux/arm64" in r.detail, f"an arm64-only index must be refused, naming what it has: {r.detail}"


def test_missing_tag_private_repo_and_rate_limit_are_named():
    with FakeRegistry(GOOD, private={"seldonio/private"}, limited={"seldonio/busy"}) as reg:
        got = results(reg, "seldonio/v2:2", "seldonio/private:1", "seldonio/busy:1")
    assert "not found (404)" in got["seldonio/v2:2"].detail, got["seldonio/v2:2"]
    assert "unauthorized (401)" in got["seldonio/private:1"].detail, got["seldonio/private:1"]
    assert "rate limited" in got["seldonio/busy:1"].detail, got["seldonio/busy:1"]
    assert not any(r.ok for r in got.values())


def test_anonymous_token_flow_and_accept_header():
    with FakeRegistry(GOOD) as reg:
        results(reg, "seldonio/v2:1")
    token_calls = [path for method, path, _ in reg.requests if path == "/token"]
    manifests = [(m, h) for m, path, h in reg.requests if path == "/v2/seldonio/v2/manifests/1"]
    assert token_calls, "the checker never asked the challenge's realm for a token"
    assert manifests[0][1].get("Authorization") is None, "the first request must be anonymous"
    assert manifests[-1][1].get("Authorization") == "Bearer tok-seldonio/v2", "the token was not presented"
    accept = manifests[-1][1]["Accept"]
    for kind in (DOCKER_SCHEMA2, OCI_MANIFEST, OCI_INDEX, DOCKER_LIST, DOCKER_SCHEMA1_SIGNED):
        assert kind in accept, f"Accept header lacks {kind}"
    # HEAD is enough for a single manifest: Docker Hub does not count it as a pull.
    assert all(m == "HEAD" for m, _ in manifests), f"a single manifest was fetched with GET: {manifests}"


def test_basic_challenge_uses_registry_credentials():
    creds = ("AWS", "secret")
    with FakeRegistry(GOOD, basic=creds) as reg:
        anonymous = results(reg, "seldonio/v2:1")["seldonio/v2:1"]
        with_creds = results(reg, "seldonio/v2:1", credentials={"docker.io": creds})["seldonio/v2:1"]
    assert not anonymous.ok and "unauthorized" in anonymous.detail, anonymous
    assert with_creds.ok, f"Basic credentials were not used: {with_creds.detail}"


def test_a_passing_503_is_retried():
    with FakeRegistry(GOOD, flaky={"seldonio/v2"}) as reg:
        r = results(reg, "seldonio/v2:1")["seldonio/v2:1"]
    assert r.ok, f"one 503 from the registry must be retried, got {r.detail}"


def test_unreachable_registry_is_reported_not_raised():
    with FakeRegistry({}) as reg:
        base = reg.base
    r = Checker(base_url=base, session=image_check.retrying_session(retries=0)).check(parse_reference("seldonio/v2:1"))
    assert not r.ok and "cannot reach the registry" in r.detail, r
    # One short line per image: not requests' nested pool/urllib3/socket text.
    assert r.detail == f"cannot reach the registry {base.split('//')[1]} (connection refused)", r.detail
    assert "\n" not in r.line() and len(r.line()) < 120, r.line()


def test_network_errors_are_named_in_a_few_words():
    import requests

    from infra.checks.images import network_reason

    dns = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='registry-1.docker.io', port=443): Max retries exceeded with url: /v2/ (Caused by "
        "NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve "
        "'registry-1.docker.io' ([Errno -3] Temporary failure in name resolution)\"))")
    assert network_reason(dns) == "DNS: the name does not resolve"
    assert network_reason(requests.exceptions.ConnectTimeout("timed out")) == f"no answer within {image_check.TIMEOUT} s"
    assert network_reason(requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED")).startswith("TLS error")


def test_cli_refuses_a_bad_registry_with_one_error_line(capsys):
    assert image_check.main(["--registry", "not a registry!"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --registry must be a registry host") and err.count("\n") == 1, err


@pytest.mark.parametrize("reference,expected", [
    ("seldonio/seldon-server:1.4.10", ImageRef("docker.io", "seldonio/seldon-server", "1.4.10")),
    ("python:3.12-slim", ImageRef("docker.io", "library/python", "3.12-slim")),
    ("gcr.io/google_containers/spark:1.5.2_v1", ImageRef("gcr.io", "google_containers/spark", "1.5.2_v1")),
    ("127.0.0.1:5000/m/seldonio/iago:1.0", ImageRef("127.0.0.1:5000", "m/seldonio/iago", "1.0")),
])
def test_references_split_like_docker(reference, expected):
    assert parse_reference(reference) == expected


def test_docker_hub_and_gcr_api_hosts():
    assert image_check.api_base("docker.io") == "https://registry-1.docker.io"
    assert image_check.api_base("gcr.io") == "https://gcr.io"
    assert image_check.api_base("127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_pinned_images_follow_the_mirror_setting():
    sources = pinned_images()
    direct = {r.text for r in sources}
    mirrored = pinned_images("123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon")
    assert len(direct) == len(IMAGES) == len(mirrored)
    assert "docker.io/library/memcached:1.6.38" in direct and {r.host for r in sources} == {"docker.io"}
    assert all(r.host == "123456789012.dkr.ecr.eu-west-1.amazonaws.com" for r in mirrored)
    assert ImageRef("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "seldon/library/memcached", "1.6.38") in mirrored


def test_the_command_checks_what_the_workloads_pin_and_the_pods_pull():
    """The command reads the images from the program; they are exactly workloads/images.py's, and
    a mirror is asked for them where the pods of a stack with that `imageRegistry` pull them."""
    from infra.offline import run_program

    assert {r.text for r in pinned_images()} == {parse_reference(image(name)).text for name in IMAGES}
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon"
    pulled = run_program({"imageSource": "registry", "imageRegistry": registry}).images()
    assert {r.text for r in pinned_images(registry)} == {parse_reference(ref).text for ref in pulled}


def _mirror_of_every_image(prefix: str, broken: dict) -> dict:
    found = {}
    for ref in pinned_images(prefix):
        found[(ref.repository, ref.tag)] = broken.get(ref.repository.split("/", 1)[1], manifest(DOCKER_SCHEMA2))
    return found


def test_cli_checks_every_pinned_image_through_the_mirror(capsys):
    with FakeRegistry({}) as reg:
        reg.manifests.update(_mirror_of_every_image(f"127.0.0.1:{reg.port}/mirror", {}))
        code = image_check.main(["--registry", f"127.0.0.1:{reg.port}/mirror"])
    out = capsys.readouterr()
    assert code == 0, f"a mirror holding every image in schema 2 must pass: {out.out}"
    asked = {path for _, path, _ in reg.requests if path.startswith("/v2/")}
    assert len(asked) == len(IMAGES), f"not every pinned image was checked: {sorted(asked)}"


def test_cli_prints_one_line_per_bad_image_and_exits_1(capsys):
    broken = {"seldonio/iago": manifest(DOCKER_SCHEMA1_SIGNED, schema=1)}
    with FakeRegistry({}) as reg:
        prefix = f"127.0.0.1:{reg.port}/mirror"
        reg.manifests.update(_mirror_of_every_image(prefix, broken))
        del reg.manifests[("mirror/seldonio/seldon-server", "1.4.10")]
        code = image_check.main(["--registry", prefix])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(lines) == 2, f"expected exactly the two bad images, got {lines}"
    assert any("mirror/seldonio/iago:1.0" in l and "schema 1" in l for l in lines), lines
    assert any("mirror/seldonio/seldon-server:1.4.10" in l and "404" in l for l in lines), lines


def _settings(**raw):
    source = {} if "imageRegistry" in raw else {"imageSource": "dockerhub"}
    return parse_settings({"allowedCidrs": '["203.0.113.7/32"]', **source, **raw}, region="eu-west-1")


def _references(settings) -> list[str]:
    """What __main__.py passes: every pinned image, through the stack's registry."""
    return [image(name, settings.image_registry) for name in sorted(IMAGES)]


def test_run_if_live_sends_nothing_when_skipped(monkeypatch):
    """skipImageCheck (set by the user, or by the offline runner for tests and the plan)."""
    monkeypatch.setattr(image_check, "check_images", lambda *a, **k: pytest.fail("image check ran though skipped"))
    settings = _settings(skipImageCheck="true")
    image_check.run_if_live(settings, _references(settings))


def test_run_if_live_stops_the_program_listing_every_bad_image(monkeypatch):
    with FakeRegistry({}) as reg:
        prefix = f"127.0.0.1:{reg.port}/mirror"
        reg.manifests.update(_mirror_of_every_image(prefix, {}))
        settings = _settings(imageRegistry=prefix)
        image_check.run_if_live(settings, _references(settings))  # all present: no error
        del reg.manifests[("mirror/seldonio/mysql", "1.0.2")]
        with pytest.raises(pulumi.RunError) as info:
            image_check.run_if_live(settings, _references(settings))
    message = str(info.value)
    assert "1 pinned image(s)" in message and "mirror/seldonio/mysql:1.0.2" in message, message
    assert "imageRegistry" in message, "the error must say how to get past it"


def test_list_pairs_every_source_with_its_mirror(capsys):
    assert image_check.main(["--list", "--registry", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon"]) == 0
    pairs = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert len(pairs) == len(IMAGES) and all(len(p) == 2 for p in pairs), pairs
    assert ["docker.io/seldonio/seldon-server:1.4.10",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon/seldonio/seldon-server:1.4.10"] in pairs
    assert ["docker.io/library/memcached:1.6.38",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon/library/memcached:1.6.38"] in pairs


def test_ecr_mirror_without_aws_credentials_is_reported_not_raised(monkeypatch):
    """No credentials (or no ecr:GetAuthorizationToken): the check goes on and names the images."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert image_check.ecr_credentials("123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon") == {}
    assert image_check.ecr_credentials("registry.example.com/seldon") == {}, "only ECR hosts ask AWS for a token"


def test_ecr_mirror_gets_a_basic_token_from_the_callers_account(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        creds = image_check.ecr_credentials("123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon")
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert list(creds) == [host] and creds[host][0] == "AWS" and creds[host][1], (
        f"ECR's token must become Basic credentials user AWS for {host}, got {creds}")
