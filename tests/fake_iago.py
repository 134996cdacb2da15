"""A fake iago parrot-server admin endpoint (Ostrich 9.2.1 on :9994) for the analysis tests.

Real HTTP on 127.0.0.1 (port 0), with a simulated clock running `speed` times faster than real
time so a 10-minute load test takes a few seconds. It follows ../shared/reference/iago-metrics.md
§2 and §6: the same routes, JSON encoding (sorted keys, `\\/`, Java doubles, trailing newline),
the 1-minute latch at hh:mm:01 behind `/stats.json?period=60`, destructive `namespace` deltas,
`/graph_data` rings of 60 minutes that answer 500 before the first collection, counters that reset
only on a restart, and scripted faults: 5xx bursts, slow answers, a pause, a restart, and the end
of the run (graceful drain or abrupt kill, after which the port refuses connections).

Every latched minute is also kept as ground truth (`minutes`, `truth`) with its full bucket
histogram, so a test can compare a report with what Ostrich would say for the same window.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import unquote, urlsplit

import numpy as np

from analysis import ostrich

TIMEOUT_EXC = "com.twitter.finagle.IndividualRequestTimeoutException"
REFUSED_EXC = "com.twitter.finagle.ChannelWriteException"
LATENCY = "client/request_latency_ms"
# Finagle 6.11.1 DefaultClient.bindStack: with ClientBuilder's hostStatsReceiver defaulting to the
# "client" receiver, the per-endpoint stack (StatsFilter: requests, success, failures, latency)
# also reports under client/<host>:<port>/; connection-acquisition failures (StatsFactoryWrapper,
# global receiver only) do not.
HOST = "client/seldon-server:80/"
HOST_LATENCY = HOST + "request_latency_ms"


def lognormal(median_ms: float, sigma: float) -> Callable:
    """Latency law: lognormal around `median_ms` (integers, as Finagle records ms)."""
    def draw(rng: np.random.Generator, n: int, minute: int) -> np.ndarray:
        return np.maximum(rng.lognormal(math.log(median_ms), sigma, n), 0).astype(np.int64)
    return draw


@dataclass
class Profile:
    """What the simulated load test does: rate, ramp, latency law and failure mix."""

    rate: float = 100.0
    ramp_s: float = 240.0
    latency: Callable = field(default_factory=lambda: lognormal(80.0, 0.35))
    timeout_frac: float = 0.0          # requests that time out (30 s recorded, client/failures)
    refused_frac: float = 0.0          # connection failures (client/failures only, no latency)
    status_mix: dict = field(default_factory=lambda: {200: 1.0})
    queue_depth: Callable = lambda second: 900
    request_timeout_ms: int = 30000

    def rate_at(self, since_traffic_start: float) -> float:
        # SlowStartPoissonProcess: 1 req/s rising linearly to `rate` over the ramp.
        if since_traffic_start < self.ramp_s:
            return 1.0 + (self.rate - 1.0) * since_traffic_start / self.ramp_s
        return self.rate


def _java_double(x: float) -> str:
    """Double.toString: 5.0, 0.25, 1.2345678E7."""
    if x == 0:
        return "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(float(x))
    mant, exp = f"{x:.16E}".split("E")
    mant = mant.rstrip("0")
    mant = mant + "0" if mant.endswith(".") else mant
    return f"{mant}E{int(exp)}"


def encode(value) -> str:
    """scala-json Json.build: compact, sorted keys, `/` escaped, non-ASCII as \\uXXXX."""
    if isinstance(value, dict):
        return "{" + ",".join(encode(str(k)) + ":" + encode(value[k]) for k in sorted(value, key=str)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _java_double(float(value))
    return json.dumps(str(value), ensure_ascii=True).replace("/", "\\/")


class _State:
    """Everything a JVM restart wipes."""

    def __init__(self, start: float, traffic_start: float):
        self.start = start
        self.traffic_start = traffic_start
        self.traffic_on = True
        self.hist = np.zeros(ostrich.NUM_BUCKETS, dtype=np.int64)
        self.total = 0
        # The victim client is built while the config is evaluated, before the admin service and
        # its latched listener exist, so its counters and latency metric are there from the start
        # (at 0, `{"count":0}`); with includeJvmStats the JVM's GC counters are always present.
        self.counters: Counter = Counter({"jvm_gc_cycles": 3, "jvm_gc_msec": 41,
                                          "client/requests": 0, "client/success": 0,
                                          HOST + "requests": 0, HOST + "success": 0})
        self.minute_hist = self.hist.copy()
        self.minute_total = 0
        self.minute_base: Counter = Counter()
        self.latched: dict | None = None
        self.namespaces: dict[str, tuple] = {}
        self.graph: dict[str, deque] = {}
        self.last_collection: int | None = None


class FakeIago:
    """Start with `with FakeIago(profile) as fake:`; `fake.url` is the admin base URL."""

    def __init__(self, profile: Profile | None = None, *, speed: float = 200.0,
                 start: float = 1_780_000_050.0, traffic_delay: float = 3.0, seed: int = 1,
                 stats_500_until_first_latch: bool = False, same_clock_as: "FakeIago | None" = None,
                 admin_delay: float = 0.0):
        self.profile = profile or Profile()
        self.speed = speed
        self.rng = np.random.default_rng(seed)
        self.traffic_delay = traffic_delay
        self.stats_500_until_first_latch = stats_500_until_first_latch
        self._t0_real = time.monotonic() if same_clock_as is None else same_clock_as._t0_real
        self._t0_sim = start if same_clock_as is None else same_clock_as._t0_sim
        if same_clock_as is not None:
            self.speed = same_clock_as.speed
            start = self.clock()
        self._lock = threading.RLock()
        self.state = _State(start, start + traffic_delay)
        self._done_until = int(start)
        self.minutes: list[dict] = []      # ground truth, one entry per latch
        self.requests_served = Counter()   # admin requests by path, to check the poller's load
        self._fail = 0
        self._slow: tuple[int, float] = (0, 0.0)
        self._pause_until_real = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._conns: set = set()
        # com.sun.net.httpserver with the default executor: one dispatcher thread answers every
        # request in turn, so a slow or paused answer holds up all the others (connections are
        # accepted concurrently here only so that keep-alive clients do not block each other).
        self._dispatcher = threading.Lock()
        self._port = 0
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, daemon=True)
        # iago builds its admin service, and with it the startup latch, once its Scala config has
        # compiled: `admin_delay` seconds after JVM start.
        self.admin_delay = admin_delay
        self._latch(start + admin_delay, initial=True)

    # --- clock -------------------------------------------------------------------------------
    def clock(self) -> float:
        """Simulated epoch seconds (what the poller under test must use as its clock)."""
        return self._t0_sim + (time.monotonic() - self._t0_real) * self.speed

    def ctrl_c_at_sleep(self, n: int):
        """A `sleep` for the puller that presses Ctrl-C (KeyboardInterrupt) at its n-th call and
        otherwise sleeps on this fake's clock."""
        calls = 0

        def sleep(sim_seconds: float) -> None:
            nonlocal calls
            calls += 1
            if calls == n:
                raise KeyboardInterrupt
            self.sleep(sim_seconds)

        return sleep

    def sleep(self, sim_seconds: float) -> None:
        time.sleep(max(sim_seconds, 0) / self.speed)

    def sleep_until(self, sim_t: float) -> None:
        self.sleep(sim_t - self.clock())

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "FakeIago":
        self._open()
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _open(self) -> None:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        # Keep-alive connections outlive the listening socket in Python; Ostrich's do not.
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def end_run(self, graceful: bool = True) -> None:
        """Feeder stops: graceful drains outstanding requests first; then 9994 refuses connections."""
        with self._lock:
            self.advance(self.clock())
            self.state.traffic_on = False
            self._stop.set()  # the JVM exits: no further latches
        if graceful:
            self.sleep(2)
        self._close()

    def restart(self, downtime_s: float = 20.0) -> None:
        """The JVM dies and comes back: new jvm_start_time, every counter and graph reset."""
        with self._lock:
            self.advance(self.clock())
            self._close()
            now = self.clock()
            self.state = _State(now + downtime_s, now + downtime_s + self.traffic_delay)
            self.state.traffic_on = True
            self._latch(int(now + downtime_s), initial=True)
        self.sleep(downtime_s)
        self._open()

    # --- faults ------------------------------------------------------------------------------
    def fail_next(self, n: int) -> None:
        """The next n admin requests answer 500 (a burst of server errors)."""
        self._fail = n

    def slow_next(self, n: int, real_seconds: float) -> None:
        """The next n admin requests answer only after `real_seconds` (beyond the client timeout)."""
        self._slow = (n, real_seconds)

    def pause(self, sim_seconds: float) -> None:
        """The admin server stops answering for a while (GC, blocked dispatcher); load goes on."""
        self._pause_until_real = time.monotonic() + sim_seconds / self.speed

    # --- simulation --------------------------------------------------------------------------
    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self.advance(self.clock())
            time.sleep(0.002)

    def advance(self, now: float) -> None:
        """Generate traffic second by second up to `now`, latching at every hh:mm:01."""
        st = self.state
        if self._stop.is_set():
            return
        while self._done_until + 1 <= now:
            s = self._done_until
            if s >= st.start:
                self._traffic(s)
            self._done_until = s + 1
            # The latched listener exists from the admin service on: no periodic latch before it.
            if self._done_until % 60 == 1 and self._done_until > st.start + self.admin_delay:
                self._latch(self._done_until)

    def _traffic(self, s: int) -> None:
        st, p = self.state, self.profile
        if not st.traffic_on or s < st.traffic_start:
            return
        n = int(self.rng.poisson(p.rate_at(s - st.traffic_start)))
        if n == 0:
            return
        refused = int(self.rng.binomial(n, p.refused_frac)) if p.refused_frac else 0
        done = n - refused
        timeouts = int(self.rng.binomial(done, p.timeout_frac)) if p.timeout_frac else 0
        ok = done - timeouts
        minute = (s // 60) * 60
        lat = np.concatenate([p.latency(self.rng, ok, minute),
                              np.full(timeouts, p.request_timeout_ms, dtype=np.int64)])
        c = st.counters
        c["requests_sent"] += n
        c["records-read"] = -(-c["requests_sent"] // 1000) * 1000
        if done:
            hist = np.bincount(ostrich.bucket_indexes(lat), minlength=ostrich.NUM_BUCKETS)
            st.hist += hist
            st.minute_hist += hist
            st.total += int(lat.sum())
            st.minute_total += int(lat.sum())
            c["client/requests"] += done
            c[HOST + "requests"] += done
        if ok:
            c["client/success"] += ok
            c[HOST + "success"] += ok
            codes = list(p.status_mix)
            for code, k in zip(codes, self.rng.multinomial(ok, [p.status_mix[x] for x in codes])):
                if k:
                    c[str(code)] += int(k)
        for exc, k in ((TIMEOUT_EXC, timeouts), (REFUSED_EXC, refused)):
            if k:
                for key in ("client/failures", f"client/failures/{exc}", "unexpected_error",
                            f"unexpected_error/{exc}"):
                    c[key] += k
        if timeouts:  # a timeout goes through the per-host StatsFilter; a refused connection does not
            c[HOST + "failures"] += timeouts
            c[f"{HOST}failures/{TIMEOUT_EXC}"] += timeouts
        c["jvm_gc_cycles"] += 1 if s % 7 == 0 else 0

    def _gauges(self, now: float) -> dict:
        st = self.state
        running = st.traffic_on and now >= st.traffic_start
        rate = self.profile.rate_at(now - st.traffic_start) if running else 0.0
        return {
            "queue_depth": int(self.profile.queue_depth(int(now))) if running else 0,
            "clock_error": 8120 if running else 0,
            "client/pending": int(rate * 0.08),
            "jvm_start_time": int(st.start * 1000),
            "jvm_uptime": int((now - st.start) * 1000),
            "jvm_heap_used": 412331176,
            "jvm_num_cpus": 2,
            "jvm_fd_count": 83.5 if running else 80,
        }

    def _latency_metric(self, hist: np.ndarray, total: int) -> dict:
        dist = ostrich.distribution(hist, total)
        return {LATENCY: dist, HOST_LATENCY: dist}

    def _latch(self, at: int, initial: bool = False) -> None:
        """LatchedStatsListener + TimeSeriesCollector at hh:mm:01 (or the startup latch)."""
        st = self.state
        deltas = {k: int(v - st.minute_base.get(k, 0)) for k, v in st.counters.items()}
        gauges = self._gauges(at)
        # The startup latch (LatchedStatsListener constructed with startClean=false) is not empty:
        # it holds every counter's total since JVM start, like any later latch holds deltas.
        st.latched = {"counters": deltas, "gauges": gauges, "labels": {},
                      "metrics": self._latency_metric(st.minute_hist, st.minute_total)}
        if not initial:
            self.minutes.append({"epoch": gauges["jvm_start_time"], "minute": at - 61,
                                 "hist": st.minute_hist.copy(), "sum": st.minute_total,
                                 "counters": deltas})
            slots = {f"counter:{k}": float(v) for k, v in deltas.items()}
            slots.update({f"gauge:{k}": float(v) for k, v in gauges.items()})
            hist = st.minute_hist
            slots[f"metric:{LATENCY}"] = slots[f"metric:{HOST_LATENCY}"] = [
                ostrich.percentile(hist, q) if hist.sum() else 0 for q in ostrich.GRAPH_QUANTILES]
            for key, value in slots.items():
                zero = [0] * 8 if key.startswith("metric:") else 0.0
                ring = st.graph.setdefault(key, deque([zero] * 60, maxlen=60))
                ring.append(value)
            st.last_collection = at
        st.minute_base = Counter(st.counters)
        st.minute_hist = np.zeros_like(st.minute_hist)
        st.minute_total = 0

    # --- ground truth ------------------------------------------------------------------------
    def truth(self, start: int | None = None, end: int | None = None) -> dict:
        """Exact figures over latched minutes [start, end): one Ostrich histogram for the window."""
        rows = [m for m in self.minutes if (start is None or m["minute"] >= start)
                and (end is None or m["minute"] < end)]
        hist = sum((m["hist"] for m in rows), np.zeros(ostrich.NUM_BUCKETS, dtype=np.int64))
        counters: Counter = Counter()
        for m in rows:
            counters.update(m["counters"])
        out = {"count": int(hist.sum()), "counters": counters, "minutes": len({m["minute"] for m in rows}),
               "max": ostrich.maximum(hist)}
        out.update({k: ostrich.percentile(hist, q) for k, q in (("p50", .5), ("p95", .95), ("p99", .99))})
        return out

    # --- HTTP --------------------------------------------------------------------------------
    def respond(self, raw_path: str) -> tuple[int, str, str]:
        """(status, content type, body) for one admin request, as Ostrich would answer it."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        params = dict(item.split("=", 1) for item in parts.query.split("&") if "=" in item)
        with self._lock:
            now = self.clock()
            self.advance(now)
            st = self.state
            if path in ("/graph_data", "/graph_data/"):
                return 200, "text/html", encode({"keys": list(st.graph)}) + "\n"
            if path.startswith("/graph_data/"):
                return self._graph(path[len("/graph_data/"):], params)
            if path.startswith("/graph/"):
                return 200, "text/html", "<html><body>graph</body></html>\n"
            if path == "/health":
                return 200, "text/plain", "OK\n"
            last = path.rsplit("/", 1)[-1]
            command, _, suffix = last.partition(".")
            if command == "ping":
                body = {"response": "pong"}
            elif command == "shutdown":
                threading.Timer(0.1 / self.speed, self._close).start()
                body = {"response": "ok"}
            elif command == "stats":
                result = self._stats(params, now)
                if isinstance(result, tuple):
                    return result
                body = result
            else:
                return 404, "text/html", "no such command\n"
        if suffix == "txt":
            return 200, "text/plain", _as_text(body)
        text = encode(body)
        callback = params.get("callback")
        if callback:
            text = ("ostrichCallback" if callback == "true" else callback) + "(" + text + ")"
        return 200, "application/json", text + "\n"

    def _stats(self, params: dict, now: float):
        st = self.state
        if "period" in params:
            try:
                period = int(params["period"])
            except ValueError as exc:
                return 500, "text/html", f"error processing command: java.lang.NumberFormatException: {exc}"
            if period < 60:
                return 400, "text/html", "Invalid option for stats command: statsListenerMinPeriod:1.minutes\n"
            if self.stats_500_until_first_latch and st.last_collection is None:
                return 500, "text/html", "error processing command: java.lang.IllegalStateException: not ready"
            return st.latched
        counters = {k: int(v) for k, v in st.counters.items()}
        hist, total = st.hist, st.total
        if "namespace" in params:
            base = st.namespaces.get(params["namespace"], (Counter(), np.zeros_like(st.hist), 0))
            st.namespaces[params["namespace"]] = (Counter(st.counters), st.hist.copy(), st.total)
            counters = {k: int(v - base[0].get(k, 0)) for k, v in st.counters.items()}
            hist, total = st.hist - base[1], st.total - base[2]
        return {"counters": counters, "gauges": self._gauges(now), "labels": {},
                "metrics": self._latency_metric(hist, total)}

    def _graph(self, key: str, params: dict) -> tuple[int, str, str]:
        st = self.state
        if key not in st.graph:
            return 500, "text/html", ("exception while processing request: "
                                      f"java.util.NoSuchElementException: key not found: {key}")
        rows = []
        for i, value in enumerate(st.graph[key]):
            ts = st.last_collection - (59 - i) * 60
            if key.startswith("metric:"):
                if "p" in params:
                    try:
                        idx = [int(x) for x in params["p"].split(",")]
                    except ValueError as exc:
                        return 500, "text/html", f"exception while processing request: java.lang.NumberFormatException: {exc}"
                    value = [value[i] for i in idx if 0 <= i < 8]
                rows.append([ts, *[int(v) for v in value]])
            else:
                rows.append([ts, float(value)])
        return 200, "application/json", encode({key: rows}) + "\n"


def _as_text(body: dict, indent: str = "") -> str:
    lines = []
    for k in sorted(body):
        v = body[k]
        if isinstance(v, dict) and not ("count" in v and k != "counters" and indent):
            lines.append(f"{indent}{k}:")
            lines.append(_as_text(v, indent + "  ").rstrip("\n"))
        elif isinstance(v, dict):
            lines.append(f"{indent}{k}: (" + ", ".join(f"{a}={b}" for a, b in sorted(v.items())) + ")")
        else:
            lines.append(f"{indent}{k}: {v}")
    return "\n".join(x for x in lines if x) + "\n"


class _Handler(BaseHTTPRequestHandler):
    owner: FakeIago
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed-ACK stall

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def setup(self) -> None:
        super().setup()
        self.owner._conns.add(self.connection)

    def finish(self) -> None:
        self.owner._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:
        with self.owner._dispatcher:
            self._answer()

    def _answer(self) -> None:
        fake = self.owner
        fake.requests_served[urlsplit(self.path).path] += 1
        wait = fake._pause_until_real - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        n_slow, delay = fake._slow
        if n_slow > 0:
            fake._slow = (n_slow - 1, delay)
            time.sleep(delay)
        if fake._fail > 0:
            fake._fail -= 1
            status, ctype, body = 500, "text/html", "error processing command: java.lang.RuntimeException: injected"
        else:
            status, ctype, body = fake.respond(self.path)
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Ostrich-Version", "9.2.1")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before we answered
