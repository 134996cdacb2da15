"""What `pulumi up` left for the analysis: the stack outputs, read with the Pulumi CLI
(`pulumi stack output --json`), and the iago admin URLs among them. The analysis never imports
Pulumi itself."""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import urlparse


class StackError(Exception):
    """`--stack` could not be resolved to iago admin URLs."""


def stack_outputs(stack: str) -> dict:
    """`pulumi stack output --json --stack STACK` as a dict."""
    out = pulumi_output(stack)
    if not isinstance(out, dict):
        raise StackError(f"pulumi stack output --stack {stack} did not print a JSON object")
    return out


def pulumi_output(stack: str, *extra: str):
    """`pulumi stack output [EXTRA...] --json --stack STACK`, parsed."""
    exe = shutil.which("pulumi")
    if exe is None:
        raise StackError("--stack needs the `pulumi` CLI on PATH (or pass --url)")
    name = " ".join(extra[:1])
    proc = subprocess.run([exe, "stack", "output", *extra, "--json", "--stack", stack],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise StackError(f"pulumi stack output {name + ' ' if name else ''}--stack {stack} failed: "
                         f"{proc.stderr.strip()[:300]}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise StackError(f"pulumi stack output --stack {stack} did not print JSON") from None


def urls_from_outputs(outputs: dict, stack: str) -> list[str]:
    urls = outputs.get("iagoAdminUrls")
    if not (isinstance(urls, list) and urls and all(isinstance(u, str) for u in urls)):
        url = outputs.get("iagoAdminUrl")
        urls = [url] if isinstance(url, str) and url else None
    if not urls:
        raise StackError(f"stack {stack} has no iagoAdminUrls/iagoAdminUrl output (is the load test deployed?)")
    # An empty URL is a LoadBalancer Service that had no address yet at the last `pulumi up`.
    if not all(urlparse(u).scheme in ("http", "https") and urlparse(u).hostname for u in urls):
        raise StackError(f"stack {stack}'s iago admin URLs {urls} have no address yet: the load balancer was still "
                         "being created at the last `pulumi up`; run `pulumi refresh` (or `pulumi up`) and pull again")
    return urls
