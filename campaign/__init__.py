"""Campaigns: one command from nothing to a report and back to nothing.

    python -m campaign run --stack bench [--keep] [--yes] [--out runs/NAME]
    python -m campaign sweep campaign/sweeps/api-replicas.yaml [--resume] [--target-p95 MS]

A campaign is the benchmark's whole cycle, in phases recorded with their times in the run
directory's campaign.json: check the stack config and show the offline plan and its cost
(infra.offline.plan), stand up with Pulumi's Automation API (`pulumi up`, output streamed), pull iago's
metrics while the load test runs and write the report (the `analysis` package), and tear down
(`pulumi destroy`) unless `--keep`, also after Ctrl-C, a failed `up` or a failed pull.

A sweep runs a series of such measurements on one stack, each step a set of stack-config
overrides, and ends with one comparison. Modules:

- stack.py: the seam, a `CampaignStack` (up, outputs, destroy), and its Automation API class;
- checks.py: what is refused before anything is created (exit 2), and the confirmation;
- sweepfile.py: reading and validating a sweep file against the settings and capacity models;
- preview.py: each step evaluated offline: its plan, its cost, and what it changes on AWS;
- journal.py: campaign.json, written atomically after every phase;
- cycle.py: stand-up, measurement and teardown, and what to say when something fails;
- curve.py: p95/p99 against the varied value, and the highest rate under a target p95;
- sweep.py / run.py: the two commands; __main__.py: their command line.
"""
