"""Fails unless the API answers a known ML10M query with at least one recommended item.

The seed's check (ml10m.md): user 625 whose recent item is 50 should get items like 318, 296,
593, 47. Sampling during training (0.25) makes the exact ids vary, so overlap is logged, not
required; an empty list, an error or a non-JSONP answer fails the Job.
"""

import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DOCUMENTED = (318, 296, 593, 47)


def query_url(endpoint: str, key: str, user: int, item: int, limit: int) -> str:
    params = {"consumer_key": key, "user": user, "item": item, "limit": limit, "jsonpCallback": "j"}
    return f"{endpoint.rstrip('/')}/js/recommendations?{urllib.parse.urlencode(params)}"


def parse_jsonp(body: str) -> dict:
    """The JSON inside `j(...)`; raises ValueError for anything else."""
    match = re.fullmatch(r"\s*j\((.*)\)\s*;?\s*", body, re.S)
    if not match:
        raise ValueError(f"not a JSONP answer for callback j: {body[:200]!r}")
    return json.loads(match.group(1))


def item_ids(answer: dict) -> list[int]:
    if "list" not in answer:
        raise ValueError(f"no recommendation list in the answer: {answer!r}")
    return [int(entry["id"]) for entry in answer["list"]]


def main() -> int:
    endpoint = os.environ.get("API_ENDPOINT", "http://seldon-server")
    url = query_url(endpoint, os.environ["JS_KEY"], int(os.environ.get("USER_ID", "625")),
                    int(os.environ.get("ITEM_ID", "50")), int(os.environ.get("LIMIT", "4")))
    attempts = int(os.environ.get("ATTEMPTS", "10"))
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                answer = parse_jsonp(response.read().decode("utf-8"))
            ids = item_ids(answer)
            if ids:
                overlap = sorted(set(ids) & set(DOCUMENTED))
                print(f"ml10m-verify: {url} -> items {ids}")
                print(f"ml10m-verify: overlap with the documented {list(DOCUMENTED)}: {overlap or 'none'}")
                return 0
            last = f"empty recommendation list: {answer!r}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        # The server caches per-item similarities; the first answers after activation may lag.
        print(f"ml10m-verify: attempt {attempt}/{attempts}: {last}", file=sys.stderr)
        if attempt < attempts:
            time.sleep(float(os.environ.get("RETRY_SECONDS", "15")))
    print(f"ml10m-verify: FAILED, no recommendations from {url}: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
