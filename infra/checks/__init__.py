"""The live checks `__main__.py` runs before declaring any resource, each also a command.

- `preflight`: can this AWS account build the stack? (`python -m infra.checks.preflight`)
- `images`: does every pinned image resolve to a manifest today's nodes pull?
  (`python -m infra.checks.images`)

Each is skipped by its config key (`skipPreflight`, `skipImageCheck`), which offline runs set.
"""
