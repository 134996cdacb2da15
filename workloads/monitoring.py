"""InfluxDB + Grafana of the Seldon stack (pure manifests) and the Grafana admin password they share.

The analytics streams (workloads/streams.py) write into InfluxDB; Grafana, behind a LoadBalancer
open to `allowedCidrs` only, shows Seldon's client dashboards.
"""

from __future__ import annotations

from typing import Any

from infra.settings import Settings
from workloads import manifests as m
from workloads.images import image

GRAFANA_SECRET = "grafana-admin-password"
GRAFANA_SECRET_KEY = "grafana-admin-password.txt"
DEPLOYMENT = "influxdb-grafana"
INFLUXDB_SERVICE = "monitoring-influxdb"
GRAFANA_SERVICE = "monitoring-grafana"


def grafana_password_env(name: str) -> dict:
    """The environment variable `name` holding the Grafana admin password, from its Secret."""
    return m.secret_env(name, GRAFANA_SECRET, GRAFANA_SECRET_KEY)


def grafana_secret(settings: Settings, password: Any) -> dict:
    """The admin password the images read from this Secret; `password` is a Pulumi secret Output."""
    return m.secret(settings.namespace, GRAFANA_SECRET, {GRAFANA_SECRET_KEY: password})


def influxdb_grafana(settings: Settings) -> dict:
    influx = {
        "name": "influxdb",
        "image": image("influxdb", settings.image_registry),
        "ports": [{"name": "http", "containerPort": 8083}, {"name": "api", "containerPort": 8086}],
        "readinessProbe": m.tcp_ready(8086),
        "volumeMounts": [m.data_mount()],
    }
    grafana = {
        "name": "grafana",
        "image": image("grafana", settings.image_registry),
        "ports": [{"name": "ui", "containerPort": 3000}],
        "env": [
            *m.env(INFLUXDB_DATABASE="seldon", INFLUXDB_SERVICE_URL="http://localhost:8086",
                   GF_SECURITY_ADMIN_USER="admin"),
            grafana_password_env("GF_SECURITY_ADMIN_PASSWORD"),
            grafana_password_env("GRAFANA_PASSWD"),
            *m.env(GF_AUTH_BASIC_ENABLED="true", GF_USERS_ALLOW_SIGN_UP="false", GF_AUTH_ANONYMOUS_ENABLED="false"),
        ],
        "readinessProbe": m.tcp_ready(3000),
        "volumeMounts": [m.data_mount()],
    }
    return m.deployment(settings.namespace, DEPLOYMENT, m.pod_spec([influx, grafana], volumes=[m.data_volume()]),
                        recreate=True)


def influxdb_service(settings: Settings) -> dict:
    return m.service(settings.namespace, INFLUXDB_SERVICE, m.selector(DEPLOYMENT),
                     [m.port("http", 8083), m.port("api", 8086)])


def grafana_service(settings: Settings) -> dict:
    return m.service(settings.namespace, GRAFANA_SERVICE, m.selector(DEPLOYMENT), [m.port("http", 80, 3000)],
                     type_="LoadBalancer", allowed_cidrs=settings.allowed_cidrs)
