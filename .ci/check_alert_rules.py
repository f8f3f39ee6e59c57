#!/usr/bin/env python3
"""Checks Prometheus alerting-rule files without Prometheus.

For each rule: it has alert, expr, for, labels (with severity) and annotations (summary,
description, runbook_url); every metric named in expr is one turnover exports (the built
metrics of docs/contract.md#metrics, not the planned ones) or one of RabbitMQ's exporter metrics
the alerts rely on; each runbook_url is an
absolute link (http(s)://..., or Prometheus' own {{ $externalURL }}/...) whose anchor is the
alert's name in lower case and exists in docs/operations.md; the 5xx-ratio alert leaves the
probe and scrape routes out. Usage: check_alert_rules.py FILE...
"""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "contract.md"
HISTOGRAMS = {"turnover_job_duration_seconds", "turnover_batch_size",
              "turnover_prediction_probability", "turnover_http_request_duration_seconds"}
# RabbitMQ's rabbitmq_prometheus plugin (/metrics/detailed, families queue_coarse_metrics and
# queue_consumer_count) and Prometheus' own series.
EXTERNAL_METRICS = {
    "rabbitmq_detailed_queue_messages", "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked", "rabbitmq_detailed_queue_consumers", "up",
}
REQUIRED = ("alert", "expr", "for", "labels", "annotations")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
PROMQL_WORDS = {
    "sum", "rate", "irate", "increase", "deriv", "delta", "max", "min", "avg", "count", "by",
    "without", "and", "or", "unless", "on", "ignoring", "group_left", "group_right",
    "histogram_quantile", "absent", "le", "bool", "offset", "topk", "bottomk", "clamp_min",
    "clamp_max", "max_over_time", "min_over_time", "avg_over_time", "vector", "scalar",
}


def contract_metrics():
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0].split("\nPlanned:", 1)[0]
    names = set(re.findall(r"`(turnover_[a-z_]+)", section))
    if not names:
        sys.exit(f"{CONTRACT}: no metric names found under ## Metrics")
    return names, str(CONTRACT)


def metric_names(expr):
    # Drop label matchers and strings so label values ("5..", "/predict") are not read as names.
    bare = re.sub(r'"[^"]*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    for word in re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", bare):
        if word in PROMQL_WORDS:
            continue
        yield word


def known(name, contract):
    if name in contract or name in EXTERNAL_METRICS:
        return True
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS & contract:
            return True
    return False


def anchors():
    doc = ROOT / "docs" / "operations.md"
    if not doc.exists():
        return set()
    out = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return out


def check(path, contract, doc_anchors):
    errors = []
    data = yaml.safe_load(pathlib.Path(path).read_text(encoding="utf-8"))
    groups = (data or {}).get("groups") or []
    if not groups:
        errors.append(f"{path}: no rule groups")
    seen = set()
    count = 0
    for group in groups:
        for rule in group.get("rules") or []:
            count += 1
            name = rule.get("alert") or rule.get("record") or f"rule #{count}"
            where = f"{path}: {group.get('name')}/{name}"
            if "record" in rule:
                continue
            for key in REQUIRED:
                if key not in rule:
                    errors.append(f"{where}: missing '{key}'")
            if name in seen:
                errors.append(f"{where}: duplicate alert name")
            seen.add(name)
            if not re.fullmatch(r"\d+[smhd]", str(rule.get("for", ""))):
                errors.append(f"{where}: 'for' is not a duration: {rule.get('for')!r}")
            if "severity" not in (rule.get("labels") or {}):
                errors.append(f"{where}: no severity label")
            notes = rule.get("annotations") or {}
            for key in REQUIRED_ANNOTATIONS:
                if key not in notes:
                    errors.append(f"{where}: missing annotation '{key}'")
            url = str(notes.get("runbook_url", ""))
            if url and not re.match(r"(https?://[^\s/]+|\{\{ \$externalURL \}\})/", url):
                errors.append(f"{where}: runbook_url {url!r} is not an absolute link")
            anchor = url.partition("#")[2]
            if url and anchor != str(name).lower():
                errors.append(f"{where}: runbook_url anchor #{anchor} is not the alert's name in lower case")
            if anchor and anchor not in doc_anchors:
                errors.append(f"{where}: runbook anchor #{anchor} not in docs/operations.md")
            expr = str(rule.get("expr", ""))
            if "5.." in expr and not all(r in expr for r in ("/health", "/ready", "/metrics")):
                errors.append(f"{where}: a 5xx ratio that counts the probe and scrape routes (/health, /ready, /metrics)")
            if expr.count("(") != expr.count(")"):
                errors.append(f"{where}: unbalanced parentheses in expr")
            for metric in set(metric_names(expr)):
                if not known(metric, contract):
                    errors.append(f"{where}: unknown metric '{metric}'")
    return count, errors


def main(paths):
    contract, source = contract_metrics()
    doc_anchors = anchors()
    failed = False
    for path in paths:
        count, errors = check(path, contract, doc_anchors)
        for error in errors:
            print(f"  ERROR {error}")
        failed = failed or bool(errors)
        print(f"  {path}: {count} rules, {len(errors)} problems (metrics checked against {source})")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
