"""Fake binaries for running the shipped scripts offline: each a small script standing in for a
real command (hostname, spark-class, timeout, ...), first on the PATH the test gives."""

from __future__ import annotations

from pathlib import Path


def fake_binaries(directory: Path, stubs: dict[str, str], shell: str = "/bin/bash") -> Path:
    """Write each `name: body` of `stubs` as an executable `directory/name`; return `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in stubs.items():
        exe = directory / name
        exe.write_text(f"#!{shell}\n{body}\n")
        exe.chmod(0o755)
    return directory
