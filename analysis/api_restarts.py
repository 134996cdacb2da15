"""seldon-server's own restarts, from the Kubernetes API, beside iago's view of the run.

An OOM kill or crash of a seldon-server container shows in iago only as errors and a latency
spike; Kubernetes knows it as a container's `restartCount` and its `lastState.terminated`
(reason such as OOMKilled, exit code, finishedAt). `pull` lists the API pods at its start and at
its end (`PodWatch.snapshot`) and appends each answer, trimmed to those fields, to samples.jsonl
as an `api_pods` record; a listing that fails is stored as well, with its one-line error, so a
report can say "unknown" rather than 0. `summarize` turns the stored snapshots into the restarts
inside a report's window.

Records never hold the kubeconfig or a token. The `kubernetes` package is imported only when a
snapshot is taken, so `report` works without it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import time
from pathlib import Path
from typing import Callable

ENDPOINT = "api_pods"
NAMESPACE = "seldon"
# The labels workloads/common.py gives the seldon-server Deployment's pods (the package itself
# imports Pulumi, which analysis stays free of; tests check that the two agree).
SELECTOR = "app.kubernetes.io/name=seldon-server"
TIMEOUT = (5.0, 15.0)  # connect, read: a dead endpoint costs the pull seconds, not minutes


class KubeconfigError(Exception):
    """No usable kubeconfig: the reason, in one line."""


# --- where the kubeconfig comes from ----------------------------------------------------------

class Source:
    """Makes a `kubernetes.client.ApiClient`; `what` says where its kubeconfig came from."""

    def __init__(self, what: str, load: Callable[[], tuple[dict | None, str | None, str | None]]):
        self.what = what
        self._load = load  # -> (config dict, or None with a file path, and a context)
        self._cached = None

    def client(self):
        from kubernetes import client, config

        if self._cached is None:
            self._cached = self._load()  # e.g. one `pulumi stack output` per pull, not per snapshot
        as_dict, path, context = self._cached
        cfg = client.Configuration()
        cfg.retries = 1  # urllib3 retries 3 times by default, each a full connect timeout
        # A fresh client per snapshot runs the exec credential plugin (`aws eks get-token`) again:
        # its token lasts 15 minutes, a pull hours.
        with _captured_plugin_errors() as errors:
            try:
                if as_dict is not None:
                    api = config.new_client_from_config_dict(as_dict, context=context, persist_config=False,
                                                             client_configuration=cfg)
                else:
                    api = config.new_client_from_config(path, context=context, persist_config=False,
                                                        client_configuration=cfg)
            except config.ConfigException as exc:
                raise KubeconfigError(f"kubeconfig ({self.what}): {_line(exc)}") from None
        if errors and not cfg.api_key.get("BearerToken"):
            raise KubeconfigError(f"the kubeconfig's credential plugin failed ({self.what}): {errors[-1]}")
        return api


@contextlib.contextmanager
def _captured_plugin_errors():
    """The client logs a failing exec plugin with logging.error and goes on without a token.

    Keep that message for the one-line report (a root handler also stops logging.error from
    calling basicConfig for the whole process), and hide stdout from the client meanwhile: it
    runs the plugin interactively when stdout is a terminal, which sends `aws eks get-token`'s
    error straight to the terminal instead of into the message.
    """
    errors: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            errors.append(_line(record.getMessage()))

    root = logging.getLogger()
    handler = Keep(logging.ERROR)
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield errors
    finally:
        root.removeHandler(handler)


def from_file(path: str, context: str | None = None) -> Source:
    def load():
        if not Path(path).is_file():
            raise KubeconfigError(f"--kubeconfig {path}: no such file")
        return None, str(path), context
    return Source(f"--kubeconfig {path}", load)


def from_default(context: str | None, what: str) -> Source:
    """$KUBECONFIG or ~/.kube/config (the stack deployed onto an existing cluster's context)."""
    return Source(what, lambda: (None, None, context))


def from_stack(stack: str, outputs: dict) -> Source | None:
    """The stack's `kubeconfig` output (a secret, read only now, kept in memory), else its
    `kubeContext` in the default kubeconfig (`clusterMode: existing`); None if it has neither."""
    if "kubeconfig" in outputs:
        return Source(f"stack {stack} output kubeconfig", lambda: (_stack_kubeconfig(stack), None, None))
    if isinstance(outputs.get("kubeContext"), str):
        ctx = outputs["kubeContext"]
        return from_default(ctx, f"context {ctx} of the default kubeconfig (stack {stack} output kubeContext)")
    return None


def _stack_kubeconfig(stack: str) -> dict:
    import yaml

    from analysis.stack import StackError, pulumi_output

    try:
        value = pulumi_output(stack, "kubeconfig", "--show-secrets")
    except StackError as exc:
        raise KubeconfigError(str(exc)) from None
    if isinstance(value, str):  # the EKS kubeconfig is JSON text inside the JSON string
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            value = None
    if not isinstance(value, dict):
        raise KubeconfigError(f"stack {stack} output kubeconfig is not a kubeconfig")
    return value


# --- snapshots during a pull ------------------------------------------------------------------

class PodWatch:
    """Lists the API pods on demand and makes the samples.jsonl record of each listing."""

    def __init__(self, source: Source | None, namespace: str = NAMESPACE, selector: str = SELECTOR, *,
                 unavailable: str | None = None, clock=time.time, timeout=TIMEOUT):
        self.source, self.namespace, self.selector = source, namespace, selector
        self.unavailable = unavailable  # why there is no source at all
        self.clock, self.timeout = clock, timeout
        self._first_good: dict | None = None
        self._said_unknown: str | None = None

    def snapshot(self, phase: str) -> dict:
        """Never raises (but KeyboardInterrupt): a failure is a record with `error`."""
        rec = {"t": self.clock(), "endpoint": ENDPOINT, "phase": phase, "namespace": self.namespace,
               "selector": self.selector, "source": self.source.what if self.source else None}
        if self.source is None:
            return self.failed(rec, self.unavailable or "no kubeconfig")
        try:
            from kubernetes import client
        except ImportError:
            return self.failed(rec, "the kubernetes package is not installed (pip install -r requirements.txt)")
        host = None
        try:
            with self.source.client() as api:
                host = api.configuration.host
                rec["url"] = f"{host}/api/v1/namespaces/{self.namespace}/pods?labelSelector={self.selector}"
                pods = client.CoreV1Api(api).list_namespaced_pod(self.namespace, label_selector=self.selector,
                                                                 _request_timeout=self.timeout)
            rec.update(status=200, pods=[_pod(p) for p in pods.items])
        except KubeconfigError as exc:
            return self.failed(rec, str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever it is, the iago pull goes on
            return self.failed(rec, _api_error(exc, host), getattr(exc, "status", None))
        if self._first_good is None:
            self._first_good = rec
        return rec

    def interrupted(self, phase: str) -> dict:
        rec = {"t": self.clock(), "endpoint": ENDPOINT, "phase": phase, "namespace": self.namespace,
               "selector": self.selector, "source": self.source.what if self.source else None}
        return self.failed(rec, "interrupted (Ctrl-C) before the pods were listed")

    @staticmethod
    def failed(rec: dict, error: str, status=None) -> dict:
        rec.update(status=status, error=error)
        return rec

    def message(self, rec: dict) -> str | None:
        """The puller's one line about a snapshot (None: nothing new to say)."""
        where = f"seldon-server pods ({self.namespace})"
        if rec.get("error"):
            if rec["error"] == self._said_unknown:
                return None
            self._said_unknown = rec["error"]
            why = rec["error"].rstrip(".")
            return f"{where}: restarts unknown at the {rec['phase']}: {why}; the iago pull goes on"
        self._said_unknown = None
        pods = rec["pods"]
        first = self._first_good
        if first is rec or first is None:
            total = sum(c["restarts"] for p in pods for c in p["containers"])
            return (f"{where}: {len(pods)} pod(s), {total} restart(s) so far"
                    + _last_terminations(pods, since=None))
        before = {(p["uid"], c["name"]): c["restarts"] for p in first["pods"] for c in p["containers"]}
        new = sum(c["restarts"] - before.get((p["uid"], c["name"]), 0) for p in pods for c in p["containers"])
        return (f"{where} at the {rec['phase']}: {len(pods)} pod(s), {new} restart(s) since "
                f"{_hms(first['t'])} UTC" + _last_terminations(pods, since=first["t"]))


def _last_terminations(pods: list[dict], since: float | None) -> str:
    said = []
    for p in pods:
        for c in p["containers"]:
            term = c.get("last_terminated")
            f = _epoch(term.get("finished_at")) if term else None
            if term and c["restarts"] and (since is None or (f is not None and f >= since)):
                said.append(f"{p['name']}/{c['name']} {term.get('reason') or 'terminated'}"
                            + (f" at {_hms(f)}" if f is not None else ""))
    return f" (last: {', '.join(said)})" if said else ""


def _pod(p) -> dict:
    """The fields of a V1Pod that tell its restarts; times as ISO 8601 strings."""
    st = p.status
    containers = []
    for c in (st.container_statuses or []) if st else []:
        state = c.state
        now = "unknown"
        if state and state.running:
            now = "running"
        elif state and state.waiting:
            now = "waiting: " + (state.waiting.reason or "")
        elif state and state.terminated:
            now = "terminated: " + (state.terminated.reason or "")
        containers.append({
            "name": c.name, "restarts": int(c.restart_count or 0), "ready": bool(c.ready), "state": now,
            "started_at": _iso(state.running.started_at) if state and state.running else None,
            # a container down at this instant: its termination is not yet in restartCount
            "terminated": _term(state.terminated) if state and state.terminated else None,
            "last_terminated": _term(c.last_state.terminated) if c.last_state and c.last_state.terminated else None,
        })
    return {"name": p.metadata.name, "uid": p.metadata.uid, "node": p.spec.node_name if p.spec else None,
            "phase": st.phase if st else None, "started_at": _iso(st.start_time) if st else None,
            "containers": containers}


def _term(t) -> dict:
    return {"reason": t.reason, "exit_code": t.exit_code, "started_at": _iso(t.started_at),
            "finished_at": _iso(t.finished_at)}


def _api_error(exc: Exception, url: str | None) -> str:
    import urllib3

    status = getattr(exc, "status", None)
    if status is not None and hasattr(exc, "reason"):  # kubernetes.client.exceptions.ApiException
        detail = ""
        try:
            import json
            detail = json.loads(exc.body).get("message") or ""
        except (TypeError, ValueError, AttributeError):
            pass
        return _line(f"the Kubernetes API answered HTTP {status} {exc.reason or ''}"
                     + (f": {detail}" if detail else "") + f" ({url})")
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        return _line(f"cannot reach the Kubernetes API ({url}): {_reason(exc.reason)}")
    if isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
        return _line(f"cannot reach the Kubernetes API ({url}): {_reason(exc)}")
    return _line(f"listing the pods failed ({url}): {type(exc).__name__}: {exc}")


def _reason(exc) -> str:
    text = str(exc)
    for short in ("Connection refused", "timed out", "Name or service not known", "certificate verify failed",
                  "No route to host", "Network is unreachable", "Temporary failure in name resolution"):
        if short in text:
            return short
    return text


def _line(x) -> str:
    text = " ".join(str(x).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _iso(t) -> str | None:
    if t is None:
        return None
    if isinstance(t, dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return str(t)


def _epoch(text) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp()


def _hms(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%H:%M:%S")


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the report's view: restarts against a window -------------------------------------------

def summarize(records: list[dict], start: int, end: int) -> dict:
    """summary.json's `api_*` fields for the window [start, end) (epoch s), from `api_pods` records.

    Per container, restartCount only grows: between two snapshots (the first one: since the pod
    started) it grew by d, and the lastState.terminated seen at the later one dates the latest of
    those d restarts. The other d-1 lie between the earlier snapshot and that time: inside the
    window when that span is, possibly inside when the span overlaps it. A pod that started inside
    the window replaced one (eviction, node loss) or rolled out: it counts as a restart there.
    Nothing is known after the last good snapshot, so one taken before the window's end leaves
    the window open ("unknown", never 0).
    """
    snaps = [r for r in records if r.get("endpoint") == ENDPOINT]
    good = sorted((r for r in snaps if r.get("status") == 200 and isinstance(r.get("pods"), list)),
                  key=lambda r: r.get("t", 0.0))
    errors = [r.get("error") for r in snaps if r.get("error")]
    out = {"api_restarts": None, "api_restarts_in_window": None, "api_restarts_maybe_in_window": None,
           "api_restarted_in_window": None, "api_restart_events": [], "api_pods": [],
           "api_restarts_note": None, "api_pods_namespace": snaps[-1].get("namespace") if snaps else None}
    if not good:
        out["api_restarts_note"] = (errors[-1] if errors else
                                    "not recorded: the pull had neither --stack nor --kubeconfig")
        return out
    pods: dict[str, dict] = {}
    series: dict[tuple, list] = {}
    for rec in good:
        for p in rec["pods"]:
            uid = p.get("uid") or p.get("name")
            info = pods.setdefault(uid, {"pod": p.get("name"), "node": p.get("node"),
                                         "started_at": p.get("started_at"), "first_seen": rec["t"]})
            info["last_seen"] = rec["t"]
            for c in p.get("containers") or []:
                series.setdefault((uid, c.get("name")), []).append((rec["t"], c))
    events: list[dict] = []
    inside = maybe = 0
    per_pod = dict.fromkeys(pods, 0)
    in_win = lambda t: start <= t < end  # noqa: E731

    def event(uid, container, term):
        f = _epoch(term.get("finished_at")) if term else None
        ev = {"pod": pods[uid]["pod"], "container": container, "kind": "restart",
              "reason": term.get("reason") if term else None, "exit_code": term.get("exit_code") if term else None,
              "at": term.get("finished_at") if term else None,  # when the container terminated
              "in_window": in_win(f) if f is not None else None}
        events.append(ev)
        return ev

    for (uid, name), obs in series.items():
        prev_t = _epoch(pods[uid]["started_at"])  # before the first snapshot: since the pod started
        prev_r, prev_f = 0, None
        for t, c in obs:
            r = int(c.get("restarts") or 0)
            term = c.get("last_terminated")
            f = _epoch(term.get("finished_at")) if term else None
            d = r - prev_r
            if d > 0:
                dated = f is not None and f != prev_f
                if dated:
                    inside += bool(event(uid, name, term)["in_window"])
                lo, hi, undated = prev_t, (f if dated else t), d - dated
                if undated:
                    if lo is not None and lo >= start and hi < end:
                        inside += undated
                    elif (lo is None or lo < end) and hi >= start:
                        maybe += undated
            if f is not None:
                prev_f = f
            prev_t, prev_r = t, max(prev_r, r)
        per_pod[uid] += prev_r
        down = obs[-1][1].get("terminated")  # down at the last snapshot, not yet counted
        if down and _epoch(down.get("finished_at")) != prev_f:
            per_pod[uid] += 1
            inside += bool(event(uid, name, down)["in_window"])
    for uid, info in pods.items():
        s = _epoch(info["started_at"])
        if s is not None and in_win(s):
            events.append({"pod": info["pod"], "container": None, "kind": "pod started",
                           "reason": None, "exit_code": None, "at": info["started_at"], "in_window": True})
            inside += 1
    last_t = good[-1]["t"]
    covered = last_t >= end
    out.update(api_restarts=sum(per_pod.values()), api_restarts_maybe_in_window=maybe, api_restart_events=events)
    out["api_restarts_in_window"] = inside if inside or (covered and not maybe) else None  # None: unknown
    out["api_restarted_in_window"] = True if inside else (False if covered and not maybe else None)
    notes = []
    if not covered:
        failed_after = [r.get("error") for r in snaps if r.get("error") and r.get("t", 0.0) > last_t]
        notes.append(f"no pod listing after {_stamp(last_t)}, before the window's end"
                     + (f" ({failed_after[-1]})" if failed_after else ""))
    if maybe:
        notes.append(f"{maybe} restart(s) not dated closely enough to place against the window")
    out["api_restarts_note"] = "; ".join(notes) or None
    last_pods = {p.get("uid") or p.get("name") for p in good[-1]["pods"]}
    for uid, info in pods.items():
        mine = [e for e in events if e["pod"] == info["pod"]]
        dated = sorted((e for e in mine if e["kind"] == "restart"), key=lambda e: _epoch(e["at"]) or 0.0)
        out["api_pods"].append({
            "pod": info["pod"], "node": info["node"], "started_at": info["started_at"],
            "restarts": per_pod[uid], "last_termination": dated[-1] if dated else None,
            "in_window": any(e["in_window"] for e in mine),
            "gone": uid not in last_pods})
    return out


def line(s: dict) -> str:
    """report.md's line near the top: each pod's restarts, reason and time, or why unknown."""
    ns = s.get("api_pods_namespace")
    head = f"seldon-server restarts{f' (namespace {ns})' if ns else ''}"
    if s.get("api_restarts") is None:
        return f"{head}: **unknown** ({s.get('api_restarts_note')})."
    parts = []
    for p in s.get("api_pods") or []:
        text = f"`{p['pod']}` {p['restarts']}"
        last = p.get("last_termination")
        if last:
            f = _epoch(last.get("at"))
            text += (f" (last: {last['container']} {last.get('reason') or 'terminated'}"
                     + (f", exit {last['exit_code']}" if last.get("exit_code") is not None else "")
                     + (f", at {_stamp(f)}" if f is not None else "")
                     + (", inside the window" if last.get("in_window") else "") + ")")
        if p.get("gone"):
            text += " (gone by the last listing)"
        parts.append(text)
    started = [e for e in s.get("api_restart_events") or [] if e["kind"] == "pod started"]
    parts += [f"`{e['pod']}` started inside the window at {e['at']}" for e in started]
    flagged, inside = s.get("api_restarted_in_window"), s.get("api_restarts_in_window")
    if flagged:
        maybe = s.get("api_restarts_maybe_in_window")
        window = f"{inside} inside the window" + (f" and {maybe} more possibly" if maybe else "")
    elif flagged is False:
        window = "none inside the window"
    else:
        window = "inside the window: unknown" if not inside else f"inside the window: at least {inside}"
    note = f"; {s['api_restarts_note']}" if s.get("api_restarts_note") else ""
    return f"{head}: {s['api_restarts']} in total, {window}{note} — " + ("; ".join(parts) or "no pods found") + "."


def flag(s: dict) -> str | None:
    """The bold warning at the top when a restart falls (or may fall) inside the window."""
    if s.get("api_restarted_in_window"):
        where = ", ".join(
            f"{e['pod']}" + (f" {e['container']} {e.get('reason') or 'terminated'}" if e["container"] else " started")
            + (f" at {_hms(_epoch(e['at']))}" if _epoch(e.get("at")) is not None else "")
            for e in s["api_restart_events"] if e["in_window"]) or "time not dated"
        return (f"**seldon-server RESTARTED inside the window ({s['api_restarts_in_window']}: {where}): "
                "the window's errors and latency include the restart, not just the steady state; set --from/--to "
                "around it or run again.**")
    if s.get("api_restarted_in_window") is None and s.get("api_restarts_maybe_in_window"):
        return (f"**seldon-server may have RESTARTED inside the window: {s['api_restarts_maybe_in_window']} "
                "restart(s) between pod listings that cannot be dated against it.**")
    return None
