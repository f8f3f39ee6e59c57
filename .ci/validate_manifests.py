#!/usr/bin/env python3
"""Validates a `helm template` render of the turnover chart, as an API server and an operator would.

Usage: validate_manifests.py [--kube-version X.Y.Z]... [--external-secret NAME]... FILE|-

Every document is checked against a schema, strictly (an unknown field is an error, as it would
be pruned silently by the API server):
  - Kubernetes' own kinds against the schemas bundled in the PyPI package kubernetes-validate,
    for each --kube-version (default: the chart's oldest supported, 1.25.0, and 1.33.0);
  - KEDA and Prometheus Operator resources against .ci/schemas/<group>/<kind>_<version>.json
    (see .ci/schemas/generate.py for where those come from).
A kind with no schema is an error, never a pass. Then what a schema cannot see:
  - every pod spec (Deployments, Jobs, ...) sets enableServiceLinks: false, or Kubernetes injects
    TURNOVER_SERVICE_HOST, TURNOVER_PORT... for a Service named turnover, which the service's
    configuration loader refuses;
  - a pod with a preStop pause has a terminationGracePeriodSeconds above the pause plus the drain
    (TURNOVER_WORKER__SHUTDOWN_TIMEOUT_MS of the rendered ConfigMap);
  - names are unique per kind; each Service, PodDisruptionBudget and ScaledObject targets pods or a
    Deployment of the render; every ConfigMap and Secret a pod reads is in the render, or named
    with --external-secret (Secrets created outside the chart: existingSecret, TLS material).
Prints one line per problem and a summary; exits 1 on any problem.
"""
import argparse
import functools
import json
import pathlib
import sys

import jsonschema
import yaml
from kubernetes_validate import utils as kv

SCHEMAS = pathlib.Path(__file__).resolve().parent / "schemas"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

# kubernetes-validate reads and parses the same large definitions file for every resource;
# the render has dozens, so read each file once.
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)


def crd_schema(doc):
    group, _, version = doc["apiVersion"].rpartition("/")
    if not group or "." not in group or group.endswith(".k8s.io"):
        return None
    path = SCHEMAS / group / f"{doc['kind'].lower()}_{version}.json"
    if not path.exists():
        raise LookupError(f"no schema {path.relative_to(SCHEMAS.parent.parent)} for {doc['apiVersion']} {doc['kind']}")
    return _load(str(path))


@functools.lru_cache(maxsize=None)
def _load(path):
    schema = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def error_text(err):
    # An anyOf (a field that may also be null) says only "not valid under any of the given
    # schemas": report its most relevant inner error instead.
    while err.context:
        inner = [e for e in err.context if not (e.validator == "type" and e.validator_value == "null")]
        err = max(inner or err.context, key=lambda e: len(e.absolute_path))
    where = ".".join(str(p) for p in err.absolute_path) or "(top)"
    message = err.message if len(err.message) <= 240 else err.message[:240] + "..."
    return f"{where}: {message}"


def schema_problems(doc, versions):
    problems = []
    try:
        validator = crd_schema(doc)
    except LookupError as e:
        return [str(e)]
    if validator is not None:
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        problems += [error_text(e) for e in errors[:5]]
        return problems
    for version in versions:
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:
            problems.append(f"Kubernetes {version}: {error_text(e)}")
        except kv.SchemaNotFoundError as e:
            problems.append(e.message)
    return problems


def pod_spec(doc):
    kind = doc.get("kind")
    spec = doc.get("spec") or {}
    if kind in WORKLOADS:
        return ((spec.get("template") or {}).get("spec")) or {}
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    if kind == "Pod":
        return spec
    return None


def pod_labels(doc):
    if doc.get("kind") == "Pod":
        return (doc.get("metadata") or {}).get("labels") or {}
    return (((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def drain_seconds(docs):
    for doc in docs:
        if doc.get("kind") == "ConfigMap":
            value = (doc.get("data") or {}).get("TURNOVER_WORKER__SHUTDOWN_TIMEOUT_MS")
            if value is not None:
                return -(-int(value) // 1000)
    return 0


def pod_problems(name, spec, drain, names, external):
    problems = []
    if spec.get("enableServiceLinks") is not False:
        problems.append(f"{name}: pod spec without enableServiceLinks: false (Kubernetes would inject TURNOVER_SERVICE_*/TURNOVER_PORT* variables)")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    for c in spec.get("containers") or []:
        command = ((((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")) or []
        if len(command) == 2 and command[0] == "sleep":
            pause = int(command[1])
            if grace <= pause + drain:
                problems.append(f"{name}: terminationGracePeriodSeconds {grace} is not above the preStop pause {pause} s + the drain {drain} s")
        refs = []
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                refs.append(("ConfigMap", src["configMapRef"]["name"], src["configMapRef"].get("optional")))
            if "secretRef" in src:
                refs.append(("Secret", src["secretRef"]["name"], src["secretRef"].get("optional")))
        for env in c.get("env") or []:
            ref = (env.get("valueFrom") or {})
            if "secretKeyRef" in ref:
                refs.append(("Secret", ref["secretKeyRef"]["name"], ref["secretKeyRef"].get("optional")))
            if "configMapKeyRef" in ref:
                refs.append(("ConfigMap", ref["configMapKeyRef"]["name"], ref["configMapKeyRef"].get("optional")))
        for kind, ref, optional in refs:
            if not optional and ref not in names.get(kind, set()) and ref not in external:
                problems.append(f"{name}: container {c.get('name')} reads {kind} {ref}, which is not in the render")
    mounts = {m["name"] for c in spec.get("containers") or [] for m in c.get("volumeMounts") or []}
    for vol in spec.get("volumes") or []:
        if "secret" in vol:
            ref = vol["secret"].get("secretName")
            if not vol["secret"].get("optional") and ref not in names.get("Secret", set()) and ref not in external:
                problems.append(f"{name}: volume {vol['name']} mounts Secret {ref}, which is not in the render")
        if "configMap" in vol:
            ref = vol["configMap"].get("name")
            if not vol["configMap"].get("optional") and ref not in names.get("ConfigMap", set()) and ref not in external:
                problems.append(f"{name}: volume {vol['name']} mounts ConfigMap {ref}, which is not in the render")
        if vol["name"] not in mounts:
            problems.append(f"{name}: volume {vol['name']} is mounted by no container")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kube-version", action="append", dest="versions")
    parser.add_argument("--external-secret", action="append", default=[])
    parser.add_argument("file")
    args = parser.parse_args()
    versions = args.versions or ["1.25.0", "1.33.0"]
    text = sys.stdin.read() if args.file == "-" else pathlib.Path(args.file).read_text(encoding="utf-8")
    docs = [d for d in yaml.safe_load_all(text) if d]
    if not docs:
        print("   ERROR the render holds no resource")
        return 1

    problems = []
    names = {}
    for doc in docs:
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
        if not doc.get("apiVersion") or not kind or not name:
            problems.append(f"a document without apiVersion, kind or metadata.name: {str(doc)[:80]}")
            continue
        if name in names.setdefault(kind, set()):
            problems.append(f"{kind}/{name}: rendered twice")
        names[kind].add(name)

    drain = drain_seconds(docs)
    external = set(args.external_secret)
    pods = []
    for doc in docs:
        label = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        problems += [f"{label}: {p}" for p in schema_problems(doc, versions)]
        spec = pod_spec(doc)
        if spec is not None:
            pods.append((doc, pod_labels(doc)))
            problems += pod_problems(label, spec, drain, names, external)

    for doc in docs:
        kind, name, spec = doc["kind"], doc["metadata"]["name"], doc.get("spec") or {}
        if kind == "Service":
            if not any(selects(spec.get("selector"), labels) for _, labels in pods):
                problems.append(f"Service/{name}: its selector matches no pod of the render")
        if kind == "PodDisruptionBudget":
            selector = (spec.get("selector") or {}).get("matchLabels")
            if not any(selects(selector, labels) for d, labels in pods if d["kind"] != "Job"):
                problems.append(f"PodDisruptionBudget/{name}: its selector matches no pod of the render")
        if kind == "ScaledObject":
            target = spec.get("scaleTargetRef") or {}
            if target.get("name") not in names.get(target.get("kind", "Deployment"), set()):
                problems.append(f"ScaledObject/{name}: scales {target.get('kind', 'Deployment')}/{target.get('name')}, which is not in the render")
            for trigger in spec.get("triggers") or []:
                auth = (trigger.get("authenticationRef") or {}).get("name")
                if auth and auth not in names.get("TriggerAuthentication", set()):
                    problems.append(f"ScaledObject/{name}: authenticationRef {auth} is not in the render")
        if kind == "TriggerAuthentication":
            for ref in spec.get("secretTargetRef") or []:
                if ref["name"] not in names.get("Secret", set()) and ref["name"] not in external:
                    problems.append(f"TriggerAuthentication/{name}: reads Secret {ref['name']}, which is not in the render")
        if kind == "Deployment":
            selector = (spec.get("selector") or {}).get("matchLabels")
            if not selects(selector, pod_labels(doc)):
                problems.append(f"Deployment/{name}: its selector does not match its own pod template")

    for p in problems:
        print(f"   ERROR {p}")
    kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(names.items()))
    print(f"   {len(docs)} resources ({kinds}) against Kubernetes {' and '.join(versions)}: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
