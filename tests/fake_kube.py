"""A fake Kubernetes API server for the restart tests: GET /api/v1/namespaces/<ns>/pods only.

Real HTTP on 127.0.0.1 (port 0), answering a PodList as the API server shapes it (metadata,
spec.containers, status.containerStatuses with restartCount, state and
lastState.terminated {exitCode, reason, startedAt, finishedAt}), filtered by an equality
labelSelector; 404 for other paths, 401 without the bearer token when one is required. Times
come from the test (epoch seconds on whatever clock the test runs, e.g. FakeIago's), so
restarts can be placed inside or outside a report's window.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

API_LABELS = {"app.kubernetes.io/name": "seldon-server", "app.kubernetes.io/part-of": "seldon-bench"}
API_CONTAINERS = ("seldon-server", "td-agent", "seldon-server-maintenance")


def rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKube:
    def __init__(self, token: str | None = None):
        self.token = token
        self.pods: dict[str, dict] = {}  # name -> pod JSON
        self.requests: list[str] = []
        self._lock = threading.Lock()

    # --- pods ------------------------------------------------------------------------------
    def add_pod(self, name: str, started: float, *, namespace: str = "seldon", labels: dict | None = None,
                containers=API_CONTAINERS, node: str = "ip-10-0-1-10.eu-west-1.compute.internal") -> None:
        statuses = [{"name": c, "image": f"docker.io/seldonio/{c}:1.4.10",
                     "imageID": f"docker.io/seldonio/{c}@sha256:{'0' * 64}",
                     "containerID": f"containerd://{uuid.uuid4().hex}", "ready": True, "started": True,
                     "restartCount": 0, "state": {"running": {"startedAt": rfc3339(started + 5)}}, "lastState": {}}
                    for c in containers]
        pod = {"metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
                            "labels": dict(API_LABELS if labels is None else labels),
                            "creationTimestamp": rfc3339(started - 2), "resourceVersion": "1000"},
               "spec": {"nodeName": node, "containers": [{"name": c, "image": f"seldonio/{c}:1.4.10"}
                                                         for c in containers]},
               "status": {"phase": "Running", "podIP": "10.0.1.23", "hostIP": "10.0.1.10",
                          "startTime": rfc3339(started), "qosClass": "Burstable",
                          "conditions": [{"type": "Ready", "status": "True",
                                          "lastTransitionTime": rfc3339(started + 40)}],
                          "containerStatuses": statuses}}
        with self._lock:
            self.pods[name] = pod

    def restart(self, pod: str, at: float, *, container: str = "seldon-server", reason: str = "OOMKilled",
                exit_code: int = 137, back_after: float = 10.0) -> None:
        """The container terminated at `at` and kubelet started it again `back_after` s later."""
        with self._lock:
            c = self._container(pod, container)
            ran_since = c["state"].get("running", {}).get("startedAt", rfc3339(at - 60))
            c["lastState"] = {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": ran_since,
                                             "finishedAt": rfc3339(at), "containerID": c["containerID"]}}
            c["restartCount"] += 1
            c["containerID"] = f"containerd://{uuid.uuid4().hex}"
            c["state"] = {"running": {"startedAt": rfc3339(at + back_after)}}

    def down(self, pod: str, at: float, *, container: str = "seldon-server", reason: str = "Error",
             exit_code: int = 1) -> None:
        """The container terminated at `at` and has not been started again yet."""
        with self._lock:
            c = self._container(pod, container)
            c["state"] = {"terminated": {"exitCode": exit_code, "reason": reason,
                                         "startedAt": c["state"].get("running", {}).get("startedAt"),
                                         "finishedAt": rfc3339(at), "containerID": c["containerID"]}}
            c["ready"] = False

    def remove(self, pod: str) -> None:
        with self._lock:
            del self.pods[pod]

    def _container(self, pod: str, name: str) -> dict:
        return next(c for c in self.pods[pod]["status"]["containerStatuses"] if c["name"] == name)

    # --- HTTP -------------------------------------------------------------------------------
    def respond(self, path: str, headers) -> tuple[int, dict]:
        self.requests.append(path)
        if self.token and headers.get("Authorization") != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 5 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "pods":
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        namespace = parts[3]
        selector = parse_qs(url.query).get("labelSelector", [""])[0]
        wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
        with self._lock:
            items = [json.loads(json.dumps(p)) for p in self.pods.values()
                     if p["metadata"]["namespace"] == namespace
                     and all(p["metadata"]["labels"].get(k) == v for k, v in wanted.items())]
        return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "4242"}, "items": items}

    def __enter__(self) -> "FakeKube":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                status, body = fake.respond(self.path, self.headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def kubeconfig(server: str, *, user: dict | None = None, name: str = "bench") -> dict:
    """A kubeconfig for `server`; `user` e.g. {"token": ...} or {"exec": {...}} (none: anonymous)."""
    return {"apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": server}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "users": [{"name": name, "user": user or {}}]}


def write_kubeconfig(path: Path, server: str, **kwargs) -> Path:
    path.write_text(json.dumps(kubeconfig(server, **kwargs)))  # JSON is YAML: the client reads either
    return path


def exec_user(script: Path, body: str) -> dict:
    """An exec credential plugin (like `aws eks get-token`) that runs the shell `body`."""
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(script),
                     "args": ["eks", "get-token", "--cluster-name", "bench"], "interactiveMode": "Never"}}


def closed_port() -> str:
    """A loopback URL nothing listens on: connections are refused at once."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
