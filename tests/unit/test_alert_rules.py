"""The example alert rules and Grafana dashboard parse, and every metric they name is one Herald exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_alert_names_a_metric_herald_exports() -> None:
    rules = yaml.safe_load((ROOT / "docs/operations/alerts.yml").read_text())["groups"][0]["rules"]
    exported = set(re.findall(r'"(herald_[a-z_]+)"', (ROOT / "infrastructure/metrics.py").read_text()))
    assert {"HeraldDueLagHigh", "HeraldAmbiguousPosts", "HeraldProjectionBehind", "HeraldQuarantineNotEmpty"} == {
        rule["alert"] for rule in rules
    }
    for rule in rules:
        named = {re.sub(r"_(bucket|count|sum)$", "", m) for m in re.findall(r"herald_[a-z_]+", rule["expr"])}
        assert named <= exported, (rule["alert"], named - exported)


def test_every_dashboard_panel_queries_metrics_herald_exports() -> None:
    import json

    dashboard = json.loads((ROOT / "docs/operations/grafana-dashboard.json").read_text())
    exported = set(re.findall(r'"(herald_[a-z_]+)"', (ROOT / "infrastructure/metrics.py").read_text()))
    queried = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            queried |= {
                re.sub(r"_(bucket|count|sum|total)$", "", m) for m in re.findall(r"herald_[a-z_]+", target["expr"])
            }
    exported_bare = {re.sub(r"_total$", "", name) for name in exported}
    assert queried <= exported_bare, queried - exported_bare
    assert len(queried) >= 9  # lag, attempts, posts, pauses, projection lag, quarantine, API, in flight, webhooks
