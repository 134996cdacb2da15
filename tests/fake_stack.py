"""A fake of the campaign's stack seam (campaign/stack.py), for offline campaigns.

`up` records its call, prints a few lines as `pulumi up` would, and starts a new fake iago
(tests/fake_iago.py, on one simulated clock running `speed` times faster than real time) that
plays the step's load test: `requestRate` from the config `up` was given, for `loadtestMinutes`,
with a latency that grows with the rate and shrinks with `apiReplicas`, so a sweep has a curve.
Its outputs point the campaign's pull at that iago. Scripted faults: an `up` that fails or gets Ctrl-C, a
Ctrl-C at a simulated time during the pull (raised from `sleep`, where the puller waits), a
`destroy` that fails.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

import yaml

from campaign.stack import Secret
from fake_iago import FakeIago, Profile, lognormal

FAKE_SECRET = "fake-grafana-password-0123"

PROJECT = "seldon-bench"


class FakeCommandError(Exception):
    """What the Automation API raises for a failed command: the CLI's output in its text."""


def median_ms(rate: float, replicas: int) -> float:
    return 30.0 * (rate / 50.0) ** 1.2 * (2.0 / replicas)


class FakeStack:
    def __init__(self, name: str, project_dir: Path, *, speed: float = 600.0, fail_up: tuple[int, ...] = (),
                 interrupt_after: Optional[tuple[int, float]] = None, interrupt_up: tuple[int, ...] = (),
                 fail_destroy: bool = False):
        self.name = name
        self.project_dir = Path(project_dir)
        self.origin = FakeIago(speed=speed)  # never served: the clock every load test shares
        self.fail_up = fail_up  # which up calls fail (1 = the first)
        self.interrupt_after = interrupt_after  # (up call, simulated seconds after it): Ctrl-C
        self.interrupt_up = interrupt_up  # which up calls get Ctrl-C while they run
        self.fail_destroy = fail_destroy
        self.calls: list[tuple[str, dict]] = []
        self.iagos: list[FakeIago] = []
        self._outputs: dict = {}
        self._interrupt_at: Optional[float] = None

    # --- the clock the campaign is given ---------------------------------------------------
    def clock(self) -> float:
        return self.origin.clock()

    def sleep(self, seconds: float) -> None:
        if self._interrupt_at is not None and self.clock() + seconds >= self._interrupt_at:
            self.origin.sleep_until(self._interrupt_at)
            self._interrupt_at = None
            raise KeyboardInterrupt
        self.origin.sleep(seconds)

    # --- the seam ----------------------------------------------------------------------------
    def config(self, config_file: Optional[Path]) -> dict:
        path = config_file or self.project_dir / f"Pulumi.{self.name}.yaml"
        raw = (yaml.safe_load(Path(path).read_text()) or {}).get("config") or {}
        return {k[len(PROJECT) + 1:]: v for k, v in raw.items() if k.startswith(PROJECT + ":")}

    def up(self, on_output, *, config_file: Optional[Path] = None, replace=()) -> dict:
        config = self.config(config_file)
        self.calls.append(("up", {"config_file": config_file, "replace": list(replace), "config": config}))
        n = sum(1 for c, _ in self.calls if c == "up")
        on_output(f"Updating ({self.name}):")
        if n in self.interrupt_up:
            on_output(" +  aws:eks/cluster:Cluster seldon-bench creating (612s)")
            raise KeyboardInterrupt
        if n in self.fail_up:
            on_output("    kubernetes:batch/v1:Job iago creating failed error: Job did not become ready")
            raise FakeCommandError("code: 255\n stdout: Updating...\n stderr: error: update failed: "
                                   "1 resource failed (kubernetes:batch/v1:Job iago)")
        self._stop_iagos()
        rate, minutes = float(config.get("requestRate", 100)), float(config.get("loadtestMinutes", 30))
        replicas = int(config.get("apiReplicas", 2))
        iago = FakeIago(Profile(rate=rate, latency=lognormal(median_ms(rate, replicas), 0.3)),
                        same_clock_as=self.origin, seed=n).__enter__()
        self.iagos.append(iago)

        def load_test():
            iago.sleep(minutes * 60)
            iago.end_run()

        threading.Thread(target=load_test, daemon=True).start()
        on_output(" +  kubernetes:batch/v1:Job iago created")
        on_output("Resources:\n    + 1 created")
        if self.interrupt_after and self.interrupt_after[0] == n:
            self._interrupt_at = self.clock() + self.interrupt_after[1]
        self._outputs = {"iagoAdminUrl": iago.url, "iagoAdminUrls": [iago.url], "requestRate": int(rate),
                         "apiReplicas": replicas, "loadtestMinutes": int(minutes), "namespace": "seldon",
                         # as the real stack has it: a secret output, handed over wrapped
                         "grafanaAdminPassword": Secret(FAKE_SECRET)}
        return dict(self._outputs)

    def outputs(self) -> dict:
        self.calls.append(("outputs", {}))
        return dict(self._outputs)

    def destroy(self, on_output, *, config_file: Optional[Path] = None) -> None:
        self.calls.append(("destroy", {"config_file": config_file}))
        on_output(f"Destroying ({self.name}):")
        if self.fail_destroy:
            raise FakeCommandError("stderr: error: deleting security group: DependencyViolation")
        self._stop_iagos()
        self._outputs = {}
        on_output("Resources:\n    - 118 deleted")

    def _stop_iagos(self) -> None:
        for iago in self.iagos:
            iago.__exit__(None, None, None)

    def ups(self) -> list[dict]:
        return [c for name, c in self.calls if name == "up"]

    def count(self, call: str) -> int:
        return sum(1 for name, _ in self.calls if name == call)
