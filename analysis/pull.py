"""The puller: polls each iago admin server while the load test runs and stores every answer raw.

Each tick (default every 20 s) asks each instance for two things: `/stats.json` (cumulative since
the JVM started: exact counters, live gauges such as queue_depth, jvm_start_time to notice a
restart) and `/stats.json?period=60` (the latched last minute: counter deltas and that minute's
latency distribution). A latched minute answers identically until the next hh:mm:01, so each
minute is stored once, keyed by (jvm_start_time, minute); that key also survives re-pulls into the
same directory. When minutes are missing (the puller started late, iago paused, timeouts), the
last hour is backfilled from `/graph_data` (per-minute counters and percentiles). That is ~6
requests a minute per instance: negligible next to the load test.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from analysis import storage
from analysis.prober import API_FAILURES
from analysis.client import GRAPH_KEYS, LATENCY_KEY, MINUTE, STATS, IagoClient
from analysis.samples import epoch_of, minute_key, stats_body
from analysis.stack import StackError, urls_from_outputs

MAX_BACKOFF = 60.0
LATCH_MARGIN = 3.0


def make_puller(out: Path, *, urls: list[str] | None = None, stack: str | None = None, outputs: dict | None = None,
                rate: float | None = None, kubeconfig: str | None = None, pods_source=None,
                namespace: str | None = None, api_url: str | None = None, api_key: str | None = None,
                probe_interval: float = 5.0, timeout: float = 5.0, clock=time.time, sleep=time.sleep,
                stderr=sys.stderr, **options) -> "Puller":
    """The puller of `python -m analysis pull`: iago's URLs, the API probe and the pod watch from
    the stack's `outputs` (of `stack`) unless given. `pods_source` (an api_restarts.Source) stands
    for the stack's kubeconfig where the caller holds it already. StackError on what cannot work."""
    from analysis import api_restarts

    meta: dict = {"rate": rate}
    outputs = outputs or {}
    if stack:
        urls = urls_from_outputs(outputs, stack)
        meta["stack"] = stack
        meta["config"] = {k: v for k, v in outputs.items() if isinstance(v, (str, int, float, bool))}
        if rate is None and isinstance(outputs.get("requestRate"), (int, float, str)):
            meta["rate"] = float(outputs["requestRate"])
    pods = None
    if kubeconfig or stack:
        source = (api_restarts.from_file(kubeconfig) if kubeconfig
                  else pods_source or api_restarts.from_stack(stack, outputs))
        pods = api_restarts.PodWatch(source, str(namespace or outputs.get("namespace") or api_restarts.NAMESPACE),
                                     clock=clock, unavailable=(f"stack {stack} has neither a kubeconfig nor a "
                                                               "kubeContext output (pass --kubeconfig)"))
    asked_url, asked_key = api_url, api_key
    api_url = api_url or outputs.get("seldonApiUrl") or None
    api_key = api_key or outputs.get("seldonApiKey") or None
    probe = None
    if api_url and api_key:
        import requests

        from analysis.prober import Prober
        probe = Prober(str(api_url), str(api_key), requests.Session(), interval=probe_interval,
                       timeout=timeout, clock=clock)
    elif asked_url or asked_key:
        raise StackError("--api-url and --api-key go together (or use --stack)")
    else:
        stderr.write("pull: no API probe (no --api-url/--api-key, or the stack has no seldonApiUrl yet): "
                     "errors seldon-server answers with HTTP 200 will not be counted\n")
    return Puller(urls or [], out, timeout=timeout, meta=meta, pods=pods, probe=probe, clock=clock, sleep=sleep,
                  stderr=stderr, **options)


@dataclass
class Instance:
    client: IagoClient
    seen: bool = False
    last_contact: float | None = None
    failures: int = 0
    next_try: float = 0.0
    epoch: int | None = None
    minutes: set = field(default_factory=set)       # (epoch, minute) stored from period=60
    filled: set = field(default_factory=set)        # (epoch, minute) covered by a graph backfill
    backfilled_at: int | None = None
    last_p95: float | None = None
    last_errors: int = 0
    iago: bool = False          # answered with Ostrich stats at least once
    last_answer: str = ""       # what the last failed attempt got, for messages


class Puller:
    """One pull session into a run directory; `run()` returns when the run ended or on Ctrl-C."""

    def __init__(self, urls: list[str], out: Path, *, interval: float = 20.0, minutes: float | None = None,
                 gone_after: float = 180.0, timeout: float = 5.0, retry_backoff: float = 0.5,
                 meta: dict | None = None, pods=None, probe=None, patience: float = 600.0,
                 clock=time.time, sleep=time.sleep, stderr=sys.stderr):
        self.out = Path(out)
        # How long to wait for a first answer that is iago's before calling the URL(s) wrong.
        self.patience = patience
        self.gave_up = False
        # A run.json of the wrong shape stops here, before anything in the directory is touched.
        storage.read_run(self.out)
        self.probe = probe  # an analysis.prober.Prober: API errors that answer HTTP 200
        self.pods = pods  # an analysis.api_restarts.PodWatch: seldon-server's pods at the start and the end
        self.interval = interval
        self.minutes = minutes
        self.gone_after = gone_after
        self.clock, self.sleep, self.stderr = clock, sleep, stderr
        self.meta = meta or {}
        self.instances = [Instance(IagoClient(u, timeout=timeout, backoff=retry_backoff, clock=clock))
                          for u in dict.fromkeys(u.rstrip("/") for u in urls)]
        self.stored_minutes = 0
        self.pull_errors = 0
        self.probes: dict[str, int] = {}
        self._progress_shown = False
        self._load_existing()

    # --- state from an earlier pull into the same directory ----------------------------------
    def _load_existing(self) -> None:
        if not (self.out / storage.SAMPLES).exists():
            return
        by_url = {i.client.base_url: i for i in self.instances}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                records = storage.read_samples(self.out)
        except storage.RunDataError:
            return
        for rec in records:
            inst = by_url.get(rec.get("instance"))
            if inst is not None and rec.get("endpoint") == "minute" and "minute" in rec:
                inst.minutes.add((rec.get("epoch"), rec["minute"]))

    # --- main loop -----------------------------------------------------------------------------
    def run(self) -> str:
        self.log = storage.SampleLog(self.out)
        started = self.clock()
        self._write_meta(started, None, None)
        deadline = started + self.minutes * 60 if self.minutes else None
        reason = "interrupted (Ctrl-C)"
        try:
            self._pod_snapshot("start")
            while True:
                now = self.clock()
                if deadline is not None and now >= deadline:
                    reason = f"--minutes {self.minutes:g} reached"
                    break
                for inst in self.instances:
                    if self.clock() >= inst.next_try:
                        self._poll(inst)
                self._maybe_probe()
                now = self.clock()
                if all(i.iago and i.failures and now - i.last_contact >= self.gone_after for i in self.instances):
                    reason = f"iago gone for {self.gone_after:g} s after having been seen: the run ended"
                    break
                if not any(i.iago for i in self.instances) and now - started >= self.patience:
                    self.gave_up = True
                    got = "; ".join(f"{i.client.base_url} got {i.last_answer or 'nothing'}" for i in self.instances)
                    reason = (f"no URL answered as iago (Ostrich /stats.json) in {self.patience:g} s: {got}; "
                              "check the URL (iago's admin port is 9994) or that the load test runs")
                    break
                self._progress()
                wake = min(i.next_try for i in self.instances)
                if self.probe is not None:
                    wake = min(wake, self.probe.next_due)
                if deadline is not None:
                    wake = min(wake, deadline)
                self.sleep(max(0.0, wake - self.clock()))
        except KeyboardInterrupt:
            reason = "interrupted (Ctrl-C)"
        finally:
            try:
                self._pod_snapshot("end")
            except KeyboardInterrupt:  # a second Ctrl-C: store that the end is unknown, and stop
                self._pod_snapshot("end", interrupted=True)
            self.log.close()
            for inst in self.instances:
                inst.client.close()
            self._write_meta(started, self.clock(), reason)
            if self._progress_shown:
                self.stderr.write("\n")
            self.stderr.write(f"pull: stopped, {reason}; {self.stored_minutes} new minutes stored in "
                              f"{self.out / storage.SAMPLES}\n")
            self.stderr.flush()
        return reason

    def _poll(self, inst: Instance) -> None:
        now = self.clock()
        cumulative = self._get(inst, STATS, "cumulative")
        minute = self._get(inst, MINUTE, "minute", store=False) if cumulative is not None else None
        if cumulative is None or minute is None:
            inst.last_answer = self._last_error
            inst.failures += 1
            backoff = min(self.interval * 2 ** (inst.failures - 1), MAX_BACKOFF)
            inst.next_try = now + backoff
            if inst.failures == 1 or inst.failures % 5 == 0:
                self._say(f"{inst.client.base_url}: no stats ({self._last_error}); "
                          f"retrying in {backoff:g} s (failure {inst.failures})")
            return
        if inst.failures:
            self._say(f"{inst.client.base_url}: back after {inst.failures} failed polls")
        inst.failures = 0
        inst.iago = True
        inst.next_try = self._next_tick(now)
        epoch = epoch_of(cumulative)
        if inst.epoch is not None and epoch != inst.epoch:
            self._say(f"{inst.client.base_url}: iago restarted (jvm_start_time {inst.epoch} -> {epoch}); "
                      "counters start again from zero")
        inst.epoch = epoch
        rec, body = minute
        key = minute_key(body, rec["t"])
        if key not in inst.minutes:
            rec["epoch"], rec["minute"] = key
            self.log.append(rec)
            inst.minutes.add(key)
            self.stored_minutes += 1
            lat = (body.get("metrics") or {}).get("client/request_latency_ms") or {}
            inst.last_p95 = lat.get("p95")
            counters = body.get("counters") or {}
            inst.last_errors = int(counters.get("client/failures", 0)) + sum(
                int(v) for k, v in counters.items() if k.isdigit() and not k.startswith("2"))
        self._maybe_backfill(inst, key)

    def _next_tick(self, now: float) -> float:
        """Ticks aligned to 3 s after each minute's latch (hh:mm:01) when the interval divides a
        minute, so a minute is stored seconds after iago latches it: a run killed soon after
        still has its last full minute."""
        if self.interval <= 60 and 60 % self.interval == 0:
            return (((now - LATCH_MARGIN) // self.interval) + 1) * self.interval + LATCH_MARGIN
        return now + self.interval

    def _get(self, inst: Instance, path: str, endpoint: str, store: bool = True):
        """GET and (usually) store; returns the parsed stats body, or None after recording why."""
        rec = self._fetch(inst, path, endpoint)
        body = stats_body(rec)
        if body is None:
            self.pull_errors += 1
            self._last_error = describe_failure(rec)
            self.log.append(rec)  # failed attempts are data: they mark gaps and the run's end
            return None
        if store:
            self.log.append(rec)
            return body
        return rec, body

    def _fetch(self, inst: Instance, path: str, endpoint: str) -> dict:
        rec = inst.client.get(path, endpoint)
        if rec.get("status") is not None:  # any HTTP answer, even a 500, means iago is there
            inst.last_contact = rec["t_recv"]
            inst.seen = True
        return rec

    def _maybe_backfill(self, inst: Instance, key: tuple) -> None:
        """Fetch /graph_data once per new minute while some of the last hour's minutes are missing."""
        epoch, current = key
        if epoch is None or inst.backfilled_at == current:
            return
        first = (epoch // 1000 // 60) * 60
        lo = max(first, current - 58 * 60)
        missing = [m for m in range(lo, current, 60)
                   if (epoch, m) not in inst.minutes and (epoch, m) not in inst.filled]
        if not missing:
            return
        inst.backfilled_at = current
        keys_rec = self._fetch(inst, GRAPH_KEYS, "graph_keys")
        self.log.append(keys_rec)
        try:
            keys = json.loads(keys_rec["body"])["keys"] if keys_rec.get("status") == 200 else []
        except (ValueError, KeyError, TypeError):
            keys = []
        wanted = [k for k in keys if k == LATENCY_KEY or k == "gauge:queue_depth"
                  or (k.startswith("counter:") and not k.startswith("counter:jvm_"))]
        ok = True
        for k in wanted:
            rec = self._fetch(inst, "/graph_data/" + quote(k, safe=":/"), "graph")
            rec["epoch"], rec["key"] = epoch, k
            self.log.append(rec)
            ok = ok and rec.get("status") == 200
        if wanted and ok:
            inst.filled.update((epoch, m) for m in missing)
            self._say(f"{inst.client.base_url}: backfilled {len(missing)} missing minute(s) from /graph_data")

    def _maybe_probe(self) -> None:
        """One API probe when due, but only while iago is being seen: a probe outside the load
        test says nothing about it."""
        if self.probe is None or not self.probe.due() or not any(i.iago for i in self.instances):
            return
        rec = self.probe.probe()
        self.log.append(rec)
        self.probes[rec["outcome"]] = self.probes.get(rec["outcome"], 0) + 1
        if rec["outcome"] not in ("ok", "unreachable") and self.probes[rec["outcome"]] in (1, 10, 100):
            self._say(f"API probe: {rec['outcome']} ({rec.get('detail', '')}); "
                      f"{self.probes[rec['outcome']]} so far")

    def _pod_snapshot(self, phase: str, interrupted: bool = False) -> None:
        if self.pods is None:
            return
        rec = self.pods.interrupted(phase) if interrupted else self.pods.snapshot(phase)
        self.log.append(rec)
        message = self.pods.message(rec)
        if message:
            self._say(message)

    # --- output --------------------------------------------------------------------------------
    _last_error = ""

    def _say(self, message: str) -> None:
        if self._progress_shown:
            self.stderr.write("\n")
            self._progress_shown = False
        self.stderr.write(f"pull: {message}\n")
        self.stderr.flush()

    def _progress(self) -> None:
        minutes = sum(len(i.minutes) for i in self.instances)
        p95 = [f"{i.last_p95:g}" for i in self.instances if i.last_p95 is not None]
        up = sum(1 for i in self.instances if i.failures == 0 and i.seen)
        line = (f"pull: {minutes} minutes | p95 {'/'.join(p95) or '-'} ms | iago errors last minute "
                f"{sum(i.last_errors for i in self.instances)} | failed polls {self.pull_errors} | "
                f"{up}/{len(self.instances)} up")
        if self.probe is not None:
            answered = sum(n for o, n in self.probes.items() if o != "unreachable")
            line += f" | API errors {sum(self.probes.get(o, 0) for o in API_FAILURES)}/{answered} probes"
        self.stderr.write("\r" + line.ljust(100))
        self.stderr.flush()
        self._progress_shown = True

    def _write_meta(self, started: float, ended: float | None, reason: str | None) -> None:
        meta = storage.read_run(self.out) if (self.out / storage.RUN).exists() else {}
        urls = [i.client.base_url for i in self.instances]
        meta["instances"] = list(dict.fromkeys(meta.get("instances", []) + urls))
        for k, v in self.meta.items():
            if v is not None:
                meta[k] = v
        pulls = meta.setdefault("pulls", [])
        stamp = _iso(started)
        entry = next((p for p in pulls if p.get("start") == stamp), None)
        if entry is None:
            entry = {"start": stamp, "urls": urls}
            pulls.append(entry)
        if ended is not None:
            entry.update(end=_iso(ended), reason=reason, new_minutes=self.stored_minutes,
                         failed_polls=self.pull_errors)
        storage.write_run(self.out, meta)


def describe_failure(rec: dict) -> str:
    """What a failed poll got, in a few words: refused, HTTP 404, an HTML page, JSON that is not Ostrich."""
    if rec.get("error"):
        return rec["error"]
    status = rec.get("status")
    if status != 200:
        return f"HTTP {status}"
    body = rec.get("body") or ""
    kind = (rec.get("content_type") or "").split(";")[0] or "no content type"
    try:
        json.loads(body)
    except ValueError:
        return f"HTTP 200 that is not JSON ({kind}: {body[:60].strip()!r})"
    return f"HTTP 200 JSON that is not Ostrich stats ({body[:60].strip()!r})"


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")
