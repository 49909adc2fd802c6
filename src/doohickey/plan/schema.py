"""The JSON Schema of ``integration.yaml``, for editors (autocomplete, hover help, red squiggles).

Generated from the pydantic Plan model, then adjusted so it accepts exactly
what the loader accepts: durations written ``15m``, the shorthands (a map row
``"a -> b | lower"``, ``conflict: owner-wins``, a status table as a plain
mapping, test cases and match rules as bare names, one webhook topic as a
string), and connector settings next to secret references. Every key has a
description; :data:`FIELD_DOCS` holds those the model leaves out.
"""

from __future__ import annotations

import copy
from typing import Any

from doohickey.plan.model import Plan

SCHEMA_ID = "https://doohickey.dev/schema/integration.schema.json"

FIELD_DOCS: dict[str, str] = {
    "Plan.name": "Short name of this integration (letters, digits, dashes).",
    "Plan.description": "What the integration does, in business words.",
    "Plan.version": "Version of this plan; raise it when decisions change.",
    "Plan.systems": "The external systems, by the name the rest of the plan uses (shop, erp, wms ...).",
    "Plan.flows": "The syncs, by name: which entity moves from which system to which, when and how.",
    "Plan.matching": "Rules that decide when two records are the same customer (entity -> rules).",
    "Plan.reconcile": "Scheduled comparisons of orders, stock and customers across systems.",
    "Plan.slas": "Business promises with their measurable form (a flow and a maximum lag).",
    "Plan.alerts": "Alert channels by name: where failures and broken promises are reported.",
    "Plan.tests": "Named test cases (scenarios run against the sandbox twins by `doohickey test`).",
    "Plan.deploy_window": "When changes may go live (off-peak hours).",
    "Plan.runtime": "How `doohickey run` runs this plan: store, workers, listen address.",
    "System.description": "What this system is for, in business words.",
    "System.sandbox": "Connection used by tests and the demo (usually a twin).",
    "System.production": "Connection to the live system; secrets by reference only.",
    "MapRow.note": "Why this row exists, for the next person.",
    "FieldMapSpec.rows": "Rows 'source -> target | transform', or {from, to, transform, default}.",
    "Conflict.rule": "owner-wins, newest (trusted timestamp) or manual-protected.",
    "FailurePolicy.retries": "How many times a failed write is retried before it becomes a dead letter.",
    "FailurePolicy.backoff": "How the wait grows between retries: exponential, linear or fixed.",
    "FailurePolicy.jitter": "Randomise waits so retries from many records do not arrive together.",
    "FailurePolicy.dead_letter": "Keep permanently failed changes for a person to fix and replay.",
    "Flow.entity": "The canonical entity moved: order, customer, product, variant, stock, fulfilment, shipment, "
                   "refund, return, consent, reservation.",
    "Flow.from": "The system changes are read from.",
    "Flow.to": "The system changes are written to.",
    "Flow.direction": "one-way, or two-way (both systems edit; needs a conflict rule).",
    "Flow.trigger": "What starts a sync: webhook topic(s), a poll interval, a cron schedule.",
    "Flow.timing": "The timing class promised: real-time, near-real-time or batch.",
    "Flow.acceptable_lag": "The longest a change may take to arrive (checked against the trigger).",
    "Flow.description": "What this flow does, in words.",
    "Flow.map": "The FieldMap: a file (maps/x.yaml), a list of rows, or {rows, passthrough}. None: identity.",
    "Flow.conflict": "Conflict rule for fields both systems change: owner-wins | newest | manual-protected.",
    "Flow.coalesce": "latest: only the newest state per record is sent (stock levels).",
    "Flow.on_failure": "Failure policy: retries, backoff, dead letter, alert channel, named owner, fallback.",
    "MatchRule.key": "email, phone, account_id or fuzzy.",
    "MatchRule.threshold": "For fuzzy: the similarity (0..1) from which two customers are the same.",
    "Reconciliation.every": "How often the comparison runs.",
    "Reconciliation.owner": "Person or team who acts on discrepancies.",
    "Reconciliation.alert": "Alert channel for discrepancies.",
    "Reconciliation.tolerance": "Allowed difference (a number, or per field).",
    "Reconciliation.repair": "report (only report) or push-owner (rewrite the copy from the owner).",
    "Sla.owner": "Person or team who answers for this promise.",
    "Sla.alert": "Alert channel when the promise is broken.",
    "AlertChannel.email": "Address(es) alerts are mailed to.",
    "AlertChannel.webhook": "URL alerts are posted to (Slack-compatible JSON).",
    "AlertChannel.webhook_secret": "Secret reference used to sign webhook alerts.",
    "AlertChannel.owner": "Person or team behind this channel.",
    "TestCase.name": "Name of the case (happy-path, duplicate-event, refund ...).",
    "TestCase.use_case": "The business use case it proves.",
    "TestCase.scenario": "Scenario run for it (defaults to the name).",
    "TestCase.flow": "The flow it exercises.",
    "TestCase.data": "Data the scenario starts from.",
    "TestCase.faults": "Faults injected into the twins (outage, duplicate, delay ...).",
    "TestCase.expect": "The outcome the case must show.",
    "DeployWindow.days": "Days changes may go live (mon ... sun).",
    "DeployWindow.from": "Start time HH:MM.",
    "DeployWindow.to": "End time HH:MM.",
    "DeployWindow.timezone": "IANA time zone of the window (Europe/Berlin).",
    "Runtime.workers": "Worker processes `doohickey run` starts.",
}

DURATION = {"anyOf": [{"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|sec|m|min|h|hr|d|w)?\s*$"},
                      {"type": "number", "minimum": 0}],
            "description": "A duration: 30s, 15m, 2h, 1d, 1w (or seconds)."}


def plan_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a plan file."""
    schema = copy.deepcopy(Plan.model_json_schema(by_alias=True))
    defs = schema["$defs"]
    schema["properties"].pop("path", None)
    defs["FieldMapSpec"]["properties"].pop("file", None)
    for model_name, model_schema in [("Plan", schema), *defs.items()]:
        for key, prop in model_schema.get("properties", {}).items():
            doc = FIELD_DOCS.get(f"{model_name}.{key}")
            if doc and not prop.get("description"):
                prop["description"] = doc
    _durations(schema)
    _shorthands(schema, defs)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "doohickey integration plan"
    schema["description"] = ("One executable integration plan: systems, ownership, flows, failure handling, "
                             "matching, reconciliation, SLAs, alerts and named test cases.")
    return schema


def _durations(node: Any) -> None:
    """Replace pydantic's ISO-8601 duration format with the plan's ``15m`` spelling."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if isinstance(value, dict) and value.get("format") == "duration":
                node[key] = {**DURATION, **{k: v for k, v in value.items() if k in ("description", "default")}}
            elif isinstance(value, dict) and isinstance(value.get("anyOf"), list):
                value["anyOf"] = [DURATION if isinstance(o, dict) and o.get("format") == "duration" else o
                                  for o in value["anyOf"]]
                _durations(value)
            else:
                _durations(value)
    elif isinstance(node, list):
        for item in node:
            _durations(item)


def _one_or_many(prop: dict[str, Any]) -> None:
    items = prop.pop("items", {"type": "string"})
    prop.pop("type", None)
    prop["anyOf"] = [items, {"type": "array", "items": items}]


def _shorthands(schema: dict[str, Any], defs: dict[str, Any]) -> None:
    flow = defs["Flow"]["properties"]
    flow["map"]["anyOf"] = [{"type": "string", "description": "A map file, relative to the plan."},
                            {"type": "array", "items": {"$ref": "#/$defs/MapRow"}},
                            {"$ref": "#/$defs/FieldMapSpec"}, {"type": "null"}]
    flow["conflict"]["anyOf"] = [{"$ref": "#/$defs/ConflictRule"}, {"$ref": "#/$defs/Conflict"}, {"type": "null"}]
    flow["status"]["anyOf"] = [{"$ref": "#/$defs/StatusTable"},
                               {"type": "object", "additionalProperties": {"type": "string"},
                                "description": "Shorthand: source status -> target status."}, {"type": "null"}]
    flow["when"]["additionalProperties"] = {"anyOf": [{"type": "string"},
                                                      {"type": "array", "items": {"type": "string"}}]}
    for model, key in (("Trigger", "webhook"), ("AlertChannel", "email"), ("MapRow", "transform")):
        _one_or_many(defs[model]["properties"][key])
    row = defs.pop("MapRow")
    defs["MapRowObject"] = row
    defs["MapRow"] = {"anyOf": [{"type": "string", "pattern": "->",
                                 "description": "'source -> target | transform | transform'"},
                                {"$ref": "#/$defs/MapRowObject"}], "description": row.get("description", "")}
    rule = defs.pop("MatchRule")
    defs["MatchRuleObject"] = rule
    defs["MatchRule"] = {"anyOf": [
        {"enum": ["email", "phone", "account_id"]},
        {"type": "object", "required": ["fuzzy"],
         "properties": {"fuzzy": {"type": "string", "description": "Fields joined by +: name+address"},
                        "threshold": {"type": "number", "minimum": 0, "maximum": 1}}, "additionalProperties": False},
        {"$ref": "#/$defs/MatchRuleObject"}], "description": rule.get("description", "")}
    case = defs.pop("TestCase")
    defs["TestCaseObject"] = case
    defs["TestCase"] = {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/TestCaseObject"}],
                        "description": case.get("description", "")}
    defs["Connection"]["additionalProperties"] = {"anyOf": [
        {"type": ["string", "number", "boolean"]}, {"$ref": "#/$defs/SecretRef"}],
        "description": "A connector setting, or a secret reference {env: NAME} / {file: path}."}


def all_keys() -> dict[str, list[str]]:
    """Every key a plan may hold, by model (for the documentation test)."""
    defs = plan_schema()["$defs"]
    out = {"Plan": sorted(plan_schema()["properties"])}
    for name, model in defs.items():
        if "properties" in model:
            out[name] = sorted(model["properties"])
    return out
