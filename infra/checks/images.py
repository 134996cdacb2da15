"""Image preflight: does every pinned image still resolve, with a manifest today's nodes accept?

The Seldon images were pushed in 2016-2017. Two things can have happened since, and either one
only shows up after the EKS cluster and nodes have been paid for and pods sit in ImagePullBackOff:
the tag (or repository) is gone, or the manifest is Docker schema 1, which containerd 2 (the
runtime of current EKS AMIs) refuses to pull. This module asks each registry over its v2 HTTP API,
anonymously (bearer token from the registry's `WWW-Authenticate` challenge), using HEAD where it
can because Docker Hub does not count HEAD requests against its anonymous pull limit.

    python -m infra.checks.images [--registry 123456789012.dkr.ecr.eu-west-1.amazonaws.com/seldon]

prints one line per bad image and exits 1 when there is any (`--list` prints the source and
mirror reference of every image instead, for the mirroring loop in docs/benchmark-guide.md).
The command checks the images the bench stack's pods pull, read from the program evaluated
offline (`infra.offline`). `__main__.py` runs the same check before any resource is declared,
`run_if_live(settings, references)`, on the references it takes from `workloads.images`.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

import requests

DOCKER_SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
# Most wanted first: a registry holding several forms returns the best one we accept; listing the
# schema-1 types too makes a schema-1-only tag answer with its real type instead of a 404.
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_SCHEMA2, DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1])
SINGLE = {DOCKER_SCHEMA2, OCI_MANIFEST}
INDEXES = {DOCKER_LIST, OCI_INDEX}
SCHEMA1 = {DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED}

# Registry hosts whose API lives elsewhere (Docker Hub's names are not its API host).
API_HOSTS = {"docker.io": "registry-1.docker.io", "index.docker.io": "registry-1.docker.io"}
TIMEOUT = 20  # seconds per request: a registry slower than that is reported, not waited for


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: `host` is the name users write (docker.io), not the API host."""

    host: str
    repository: str
    tag: str

    @property
    def text(self) -> str:
        return f"{self.host}/{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Result:
    ref: ImageRef
    ok: bool
    detail: str  # media type when ok, the problem in plain words otherwise

    def line(self) -> str:
        return f"{'ok ' if self.ok else 'BAD'} {self.ref.text}: {self.detail}"


def parse_reference(reference: str) -> ImageRef:
    """Split `[host/]repo:tag` the way Docker does: the first part is a host if it looks like one."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise ValueError(f"image reference without an explicit tag: {reference!r}")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, rest
    else:
        host, repository = "docker.io", name
    if host == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    return ImageRef(host, repository, tag)


def pinned_images(registry: Optional[str] = None) -> list[ImageRef]:
    """Every image the bench stack's pods pull from Docker Hub, read from the program evaluated
    offline; or where the mirror `registry` (`imageRegistry`) holds each of them."""
    from infra.offline import run_program

    program = run_program({"imageSource": "dockerhub", "imageRegistry": None})
    sources = sorted({parse_reference(ref) for ref in program.images()}, key=lambda r: r.text)
    return [mirrored(source, registry) for source in sources] if registry else sources


def mirrored(source: ImageRef, registry: str) -> ImageRef:
    """Where a mirror filled with the same `<namespace>/<repository>:<tag>` paths holds `source`."""
    return parse_reference(f"{registry}/{source.repository}:{source.tag}")


def api_base(host: str) -> str:
    """The v2 API root of a registry host; plain HTTP only for the local machine."""
    host = API_HOSTS.get(host, host)
    local = host.split(":")[0] in ("localhost", "127.0.0.1")
    return f"{'http' if local else 'https'}://{host}"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {realm, service, scope})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', params))


def retrying_session(retries: int = 2) -> requests.Session:
    """A session that retries connection errors and 502/503/504 briefly; 429 is reported, not retried."""
    from requests.adapters import HTTPAdapter
    from urllib3.util import Retry

    retry = Retry(total=retries, backoff_factor=0.5, status_forcelist=(502, 503, 504),
                  allowed_methods=frozenset({"HEAD", "GET"}), raise_on_status=False)
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(max_retries=retry))
    return session


class Checker:
    """Checks image references against their registries; one token per registry and repository."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        credentials: Optional[Mapping[str, tuple[str, str]]] = None,
        session: Optional[requests.Session] = None,
    ):
        # base_url replaces every registry's API root (tests point it at 127.0.0.1).
        self.base_url = base_url.rstrip("/") if base_url else None
        # host -> (user, password), for registries that need it (ECR answers anonymous with Basic).
        self.credentials = dict(credentials or {})
        self.session = session or retrying_session()
        self._tokens: dict[tuple[str, str], str] = {}

    def check(self, ref: ImageRef) -> Result:
        url = f"{self.base_url or api_base(ref.host)}/v2/{ref.repository}/manifests/{ref.tag}"
        try:
            response = self._request("HEAD", url, ref)
            kind = _media_type(response)
            # Some registries answer HEAD without a useful type; an index must be read anyway.
            if response.status_code == 200 and (kind not in SINGLE | SCHEMA1):
                response = self._request("GET", url, ref)
                kind = _media_type(response)
        except requests.RequestException as exc:
            return Result(ref, False, f"cannot reach the registry {_host(url)} ({network_reason(exc)})")
        except _AuthFailed as exc:
            return Result(ref, False, str(exc))
        return self._judge(ref, response, kind)

    def _judge(self, ref: ImageRef, response: requests.Response, kind: str) -> Result:
        status = response.status_code
        if status == 404:
            return Result(ref, False, "tag or repository not found (404)")
        if status in (401, 403):
            return Result(ref, False, f"unauthorized ({status}): the repository is private, gone, or needs credentials")
        if status == 429:
            return Result(ref, False, "rate limited by the registry (429); retry later or mirror the images")
        if status != 200:
            return Result(ref, False, f"registry answered HTTP {status}")
        if kind in SINGLE:
            return Result(ref, True, kind)
        if kind in SCHEMA1 or (kind in ("application/json", "") and _schema_version(response) == 1):
            return Result(ref, False, (
                f"Docker schema 1 manifest ({kind or 'schemaVersion 1'}); containerd 2 refuses to pull it. "
                "Convert while mirroring: skopeo copy --format v2s2 docker://SRC docker://MIRROR, then set imageRegistry"))
        if kind in INDEXES:
            platforms = _platforms(response)
            if ("linux", "amd64") in platforms:
                return Result(ref, True, f"{kind} with linux/amd64")
            shown = ", ".join(f"{o}/{a}" for o, a in sorted(platforms)) or "none"
            return Result(ref, False, f"multi-platform index without linux/amd64 (has {shown})")
        return Result(ref, False, f"unexpected manifest media type {kind!r}")

    def _request(self, method: str, url: str, ref: ImageRef) -> requests.Response:
        headers = {"Accept": ACCEPT}
        key = (ref.host, ref.repository)
        if key in self._tokens:
            headers["Authorization"] = self._tokens[key]
        response = self.session.request(method, url, headers=headers, timeout=TIMEOUT, allow_redirects=True)
        if response.status_code == 401 and "Authorization" not in headers:
            challenge = response.headers.get("WWW-Authenticate", "")
            auth = self._authorize(challenge, ref)
            if auth:
                self._tokens[key] = auth
                headers["Authorization"] = auth
                response = self.session.request(method, url, headers=headers, timeout=TIMEOUT, allow_redirects=True)
        return response

    def _authorize(self, challenge: str, ref: ImageRef) -> Optional[str]:
        """The Authorization header the challenge asks for, or None when we have nothing to offer."""
        scheme, params = parse_challenge(challenge)
        user_pass = self.credentials.get(ref.host)
        if scheme == "basic":
            if not user_pass:
                return None
            return "Basic " + base64.b64encode(":".join(user_pass).encode()).decode()
        if scheme != "bearer" or "realm" not in params:
            return None
        query = {"scope": f"repository:{ref.repository}:pull"}
        if "service" in params:
            query["service"] = params["service"]
        try:
            response = self.session.get(params["realm"], params=query, timeout=TIMEOUT,
                                        auth=user_pass if user_pass else None)
        except requests.RequestException as exc:
            raise _AuthFailed(f"cannot reach the token service {params['realm']} ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise _AuthFailed(f"token service {params['realm']} refused an anonymous pull token (HTTP {response.status_code})")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise _AuthFailed(f"token service {params['realm']} returned no token")
        return f"Bearer {token}"


class _AuthFailed(Exception):
    pass


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0]


def network_reason(exc: BaseException) -> str:
    """What went wrong on the network, in a few words: requests' own text nests urllib3's and the
    socket's (pool, object address, retries) into one long line per image."""
    chain: list[BaseException] = []
    todo: list = [exc]
    while todo:  # requests wraps urllib3's error, which wraps the socket's: look at all of them
        e = todo.pop()
        if not isinstance(e, BaseException) or any(e is seen for seen in chain):
            continue
        chain.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
    text = " ".join(str(e) for e in chain)
    kinds = tuple(type(e) for e in chain)
    if any(issubclass(k, requests.exceptions.SSLError) for k in kinds) or "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS error: the certificate was not accepted"
    if any(issubclass(k, requests.exceptions.ProxyError) for k in kinds):
        return "the proxy refused the connection"
    if any(issubclass(k, requests.exceptions.Timeout) for k in kinds) or "timed out" in text:
        return f"no answer within {TIMEOUT} s"
    for needle, reason in (("Name or service not known", "DNS: the name does not resolve"),
                           ("Temporary failure in name resolution", "DNS: the name does not resolve"),
                           ("nodename nor servname", "DNS: the name does not resolve"),
                           ("getaddrinfo failed", "DNS: the name does not resolve"),
                           ("Connection refused", "connection refused"),
                           ("Network is unreachable", "network unreachable"),
                           ("No route to host", "no route to host"),
                           ("Connection reset", "connection reset"),
                           ("RemoteDisconnected", "the registry closed the connection")):
        if needle in text:
            return reason
    return type(chain[0]).__name__


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _schema_version(response: requests.Response) -> Optional[int]:
    return _json(response).get("schemaVersion")


def _platforms(response: requests.Response) -> set[tuple[str, str]]:
    return {
        ((m.get("platform") or {}).get("os", "?"), (m.get("platform") or {}).get("architecture", "?"))
        for m in _json(response).get("manifests", [])
    }


def check_images(
    refs: Iterable[ImageRef],
    base_url: Optional[str] = None,
    credentials: Optional[Mapping[str, tuple[str, str]]] = None,
) -> list[Result]:
    checker = Checker(base_url=base_url, credentials=credentials)
    return [checker.check(ref) for ref in refs]


def ecr_credentials(registry: Optional[str], profile: Optional[str] = None) -> dict[str, tuple[str, str]]:
    """ECR refuses anonymous pulls: take a token with the caller's AWS credentials (boto3, `aws:profile`)."""
    if not registry:
        return {}
    host = registry.split("/")[0]
    m = re.fullmatch(r"([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com", host)
    if not m:
        return {}
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ecr = boto3.session.Session(profile_name=profile).client("ecr", region_name=m.group(2))
        data = ecr.get_authorization_token(registryIds=[m.group(1)])
    except (BotoCoreError, ClientError):
        # Without a token every image of the mirror is reported unauthorized, which says enough.
        return {}
    user, password = base64.b64decode(data["authorizationData"][0]["authorizationToken"]).decode().split(":", 1)
    return {host: (user, password)}


def failure_message(bad: list[Result]) -> str:
    return (
        f"{len(bad)} pinned image(s) cannot be pulled by the cluster's nodes:\n"
        + "\n".join(f"  - {r.line()}" for r in bad)
        + "\nMirror them (docs/benchmark-guide.md, 'Images') and set seldon-bench:imageRegistry, "
          "or set seldon-bench:skipImageCheck true to deploy anyway."
    )


def run_if_live(settings, references: Sequence[str]) -> None:
    """Check every image reference the workloads pull before any resource is declared, unless
    `skipImageCheck` (which the offline runner sets: tests and the plan send nothing anywhere)."""
    if settings.skip_image_check:
        return
    import pulumi

    refs = [parse_reference(ref) for ref in references]
    credentials = ecr_credentials(settings.image_registry, settings.aws_profile)
    bad = [r for r in check_images(refs, credentials=credentials) if not r.ok]
    if bad:
        raise pulumi.RunError(failure_message(bad))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra.checks.images", description=__doc__.split("\n\n")[0])
    p.add_argument("--registry", help="mirror every image is pulled from (the stack's seldon-bench:imageRegistry)")
    p.add_argument("--base-url", help="send every request to this registry API root instead (testing)")
    p.add_argument("--verbose", "-v", action="store_true", help="also print the images that are fine")
    p.add_argument("--list", action="store_true",
                        help="check nothing; print 'SOURCE [MIRROR]' per pinned image, for a mirroring loop")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    from infra.settings import registry_problem

    args = parser().parse_args(argv)
    if args.registry is not None and (problem := registry_problem(args.registry)):
        print(f"error: --registry {problem}, got {args.registry[:80]!r}", file=sys.stderr)
        return 2
    if args.list:
        for source in pinned_images():
            print(f"{source.text} {mirrored(source, args.registry).text}" if args.registry else source.text)
        return 0
    refs = pinned_images(args.registry)
    results = check_images(refs, base_url=args.base_url, credentials=ecr_credentials(args.registry) if not args.base_url else {})
    bad = [r for r in results if not r.ok]
    for r in results:
        if args.verbose or not r.ok:
            print(r.line())
    print(f"{len(results) - len(bad)} of {len(results)} images pullable", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
