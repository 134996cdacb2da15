"""Pull iago's metrics from its Ostrich admin server, store them raw, and report on a run.

No Pulumi here: the puller talks HTTP to iago (port 9994) and everything else works on the run
directory it fills (`samples.jsonl` + `run.json`), so a report can be rebuilt at any time.
Run `python -m analysis --help`.
"""
