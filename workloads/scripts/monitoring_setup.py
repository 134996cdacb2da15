"""Creates the InfluxDB database the stream jobs write to, then waits for Grafana to accept the
admin password.

seldon-up ran `influx --execute 'create database ...'` in the pod; an HTTP call does the same
from a Job. The client dashboards are Seldon's own: `seldon-cli client --action setup` posts
client-dashboard.json when GRAFANA_ADMIN_PASSWORD is set, without checking the answer
(python/seldon/cli/seldon_utils.py add_grafana_dashboard), so the Jobs that run it start only
after this one has seen Grafana up and the password accepted.
"""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def request(url: str, data: bytes | None = None, headers: dict | None = None, attempts: int = 30) -> bytes:
    """Retries while the service is still starting; raises on the last failure."""
    for attempt in range(1, attempts + 1):
        try:
            req = urllib.request.Request(url, data=data, headers=headers or {},
                                         method="POST" if data is not None else "GET")
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            # A refusal (wrong password, bad dashboard) will not change by waiting.
            if exc.code < 500 or attempt == attempts:
                raise
            print(f"monitoring-setup: {url}: {exc}; retrying", file=sys.stderr)
            time.sleep(float(os.environ.get("RETRY_SECONDS", "5")))
        except (urllib.error.URLError, OSError) as exc:
            if attempt == attempts:
                raise
            print(f"monitoring-setup: {url}: {exc}; retrying", file=sys.stderr)
            time.sleep(float(os.environ.get("RETRY_SECONDS", "5")))
    raise AssertionError("unreachable")


def main() -> int:
    influx = os.environ.get("INFLUXDB_URL", "http://monitoring-influxdb:8086")
    database = os.environ.get("INFLUXDB_DATABASE", "seldon")
    query = urllib.parse.urlencode({"q": f"CREATE DATABASE IF NOT EXISTS {database}"})
    # GET: the image's InfluxDB 0.9.6 (heapster_influxdb v0.6) routes /query for GET only; a POST
    # is refused (services/httpd/handler.go at v0.9.6). Its default retention policy is "default",
    # the one the stream jobs write to.
    print("monitoring-setup: influxdb:", request(f"{influx}/query?{query}").decode())

    grafana = os.environ.get("GRAFANA_URL", "http://monitoring-grafana")
    auth = base64.b64encode(f"admin:{os.environ['GRAFANA_ADMIN_PASSWORD']}".encode()).decode()
    # Grafana 2.6: the admin's current organisation; 401 when the password is refused.
    org = json.loads(request(f"{grafana}/api/org", headers={"Authorization": f"Basic {auth}"}))
    print(f"monitoring-setup: grafana: admin login accepted (organisation {org.get('name')!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
