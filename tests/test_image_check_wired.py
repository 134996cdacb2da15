"""The program runs the image check before declaring anything (lead wires image_check.run_if_live)."""

import pytest

from infra import image_check
from infra.image_check import ImageRef, Result
from infra.offline import run_program


def test_program_stops_on_a_bad_image_before_declaring_anything(monkeypatch):
    bad = Result(ImageRef("docker.io", "seldonio/iago", "1.0"), False, "tag or repository not found (404)")
    monkeypatch.setattr("infra.handles.under_mocks", lambda: False)
    monkeypatch.setattr(image_check, "check_images", lambda *a, **k: [bad])
    monkeypatch.setattr(image_check, "ecr_credentials", lambda registry, profile=None: {})
    with pytest.raises(Exception) as info:
        run_program({"skipPreflight": "true"})
    assert "seldonio/iago:1.0" in str(info.value), f"the program did not run the image check: {info.value}"
