"""`__main__.py` runs the live checks before declaring anything, unless their skip keys are set."""

import pytest

from infra.checks import images as image_check
from infra.checks.images import ImageRef, Result
from infra.offline import run_program


def test_program_stops_on_a_bad_image_before_declaring_anything(monkeypatch):
    bad = Result(ImageRef("docker.io", "seldonio/iago", "1.0"), False, "tag or repository not found (404)")
    monkeypatch.setattr(image_check, "check_images", lambda *a, **k: [bad])
    monkeypatch.setattr(image_check, "ecr_credentials", lambda registry, profile=None: {})
    with pytest.raises(Exception) as info:
        run_program({"skipPreflight": "true"}, live_checks=True)
    assert "seldonio/iago:1.0" in str(info.value), f"the program did not run the image check: {info.value}"


def test_offline_runs_skip_both_live_checks(monkeypatch):
    """Tests and `python -m infra.offline.plan` never ask AWS or a registry: the runner sets the skip keys."""
    from infra.checks import preflight

    monkeypatch.setattr(image_check, "check_images", lambda *a, **k: pytest.fail("image check ran offline"))
    monkeypatch.setattr(preflight, "check", lambda *a, **k: pytest.fail("preflight ran offline"))
    run_program({"apiReplicas": "3"})


def test_the_program_runs_preflight_unless_skipped(monkeypatch):
    from infra.checks import preflight

    calls = []
    monkeypatch.setattr(preflight, "check", lambda settings: calls.append(settings) or preflight.Report("eu-west-1", "eu-west-1c"))
    run_program({"skipImageCheck": "true"}, live_checks=True)
    assert len(calls) == 1 and calls[0].region == "eu-west-1"
    run_program({"skipImageCheck": "true", "skipPreflight": "true"}, live_checks=True)
    assert len(calls) == 1, "skipPreflight must skip it"
    run_program({"skipImageCheck": "true", "clusterMode": "existing", "kubeContext": "kind-bench",
                 "existingNfsServer": "10.1.2.3"}, live_checks=True)
    assert len(calls) == 1, "an existing cluster creates nothing on AWS: no preflight, no AWS credentials needed"
