"""Time `report` (no plots) on a 24-hour run: 1,440 latched minutes plus 3 cumulative snapshots a
minute, bodies shaped like iago's (about 40 counters/gauges and two latency metrics); then the same
run pulled from two iago instances, where every minute's percentiles must be merged.

    python benchmarks/report_benchmark.py        # goal: under 2 s
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import ostrich, report  # noqa: E402
from analysis.storage import SampleLog  # noqa: E402

MINUTES = 24 * 60
URL = "http://iago:9994"
START = 1_780_000_000
EPOCH_MS = START * 1000


def body(counters: dict, gauges: dict, hist: np.ndarray, total: int) -> str:
    metrics = {"client/request_latency_ms": ostrich.distribution(hist, total),
               "client/connect_latency_ms": {"average": 1, "count": 3, "maximum": 2, "minimum": 1, "p50": 1,
                                             "p90": 2, "p95": 2, "p99": 2, "p999": 2, "p9999": 2, "sum": 4}}
    doc = {"counters": counters, "gauges": gauges, "labels": {}, "metrics": metrics}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).replace("/", "\\/") + "\n"


def make_run(path: Path, instances: tuple[str, ...] = (URL,)) -> None:
    rng = np.random.default_rng(3)
    cum = {"client/requests": 0, "client/success": 0, "200": 0, "500": 0, "requests_sent": 0}
    with SampleLog(path) as log:
        for i, url in ((i, url) for i in range(MINUTES) for url in instances):
            minute = START + 60 * (i + 1) - START % 60
            n = int(rng.poisson(6000))
            lat = rng.lognormal(np.log(80), 0.35, n).astype(np.int64)
            hist = np.bincount(ostrich.bucket_indexes(lat), minlength=ostrich.NUM_BUCKETS)
            bad = int(rng.binomial(n, 0.002))
            counters = {"client/requests": n, "client/success": n, "200": n - bad, "500": bad,
                        "requests_sent": n, "records-read": n, "client/connects": 2,
                        "client/received_bytes": 470 * n, "client/sent_bytes": 420 * n,
                        "jvm_gc_cycles": 4, "jvm_gc_msec": 31}
            counters.update({f"jvm_gc_{g}_cycles": 2 for g in ("PS_Scavenge", "PS_MarkSweep")})
            gauges = {"clock_error": 8120, "queue_depth": int(rng.integers(0, 1000)), "client/pending": 8,
                      "client/load": 8, "client/connections": 9, "client/pool_size": 9, "client/available": 1,
                      "jvm_heap_used": 412331176, "jvm_heap_max": 3000000000, "jvm_num_cpus": 2,
                      "jvm_thread_count": 41, "jvm_fd_count": 83, "jvm_start_time": EPOCH_MS,
                      "jvm_uptime": (minute + 61) * 1000 - EPOCH_MS}
            log.append({"t": minute + 63.0, "url": url + "/stats.json?period=60", "instance": url,
                        "endpoint": "minute", "status": 200, "body": body(counters, gauges, hist, int(lat.sum())),
                        "t_recv": minute + 63.01, "epoch": EPOCH_MS, "minute": minute})
            for k in cum:
                cum[k] += counters.get(k, 0)
            for s in (63, 83, 103):
                log.append({"t": minute + s, "url": url + "/stats.json", "instance": url, "endpoint": "cumulative",
                            "status": 200, "body": body(dict(cum), gauges, hist, int(lat.sum())),
                            "t_recv": minute + s + 0.01})
    (path / "run.json").write_text(json.dumps({"rate": 100 * len(instances), "instances": list(instances)}))


def main() -> None:
    for instances in ((URL,), (URL, "http://iago-2:9994")):
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "day"
            make_run(run, instances)
            size = (run / "samples.jsonl").stat().st_size
            t0 = time.perf_counter()
            summary = report.build(run, plots=False)
            elapsed = time.perf_counter() - t0
        print(f"report of a 24-hour run from {len(instances)} iago instance(s) ({MINUTES} minutes, "
              f"{MINUTES * 4 * len(instances)} samples, {size / 1e6:.1f} MB), no plots: {elapsed:.2f} s "
              f"(goal < 2 s); p95 {summary['p95_ms']} ms over {summary['minutes']} minutes")


if __name__ == "__main__":
    main()
