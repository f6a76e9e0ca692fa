"""Local stack state that survives a restart of ``make run``: tables, queued messages, secrets.

The emulator keeps everything in memory, so the stack writes a snapshot under ``--state-dir``
(after every tick, every few seconds while running, and on Ctrl-C) and loads it on start.
Local only: nothing here is deployed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from local.provision import ACCOUNT_ID, Wiring

TABLE_VARS = ("IOP_INTAKES_TABLE", "IOP_CRISIS_TABLE", "IOP_REMINDERS_TABLE", "IOP_CONTACTS_TABLE",
              "IOP_ELIGIBILITY_TABLE", "IOP_AUDIT_TABLE")
SECRET_VARS = ("IOP_SIGNING_SECRET_ID", "IOP_ELIGIBILITY_SECRET_ID")


def snapshot(wiring: Wiring, clients: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    ddb, sm = clients["dynamodb"], clients["secretsmanager"]
    tables: dict[str, list[dict[str, Any]]] = {}
    for var in TABLE_VARS:
        name = wiring.env[var]
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=name):  # local snapshot only
            items.extend(page["Items"])
        tables[name] = items
    secrets = {}
    for var in SECRET_VARS:
        secret_id = wiring.env.get(var)
        if secret_id:
            secrets[secret_id.rsplit(":", 1)[-1].rsplit("-", 1)[0]] = \
                sm.get_secret_value(SecretId=secret_id)["SecretString"]
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[ACCOUNT_ID][region]
    queues: dict[str, list[dict[str, Any]]] = {}
    for queue in backend.queues.values():
        queues[queue.name] = [
            {"body": m.body,
             "attributes": {k: {"DataType": v["data_type"], "StringValue": v.get("string_value")}
                            for k, v in (m.message_attributes or {}).items() if v.get("string_value")}}
            for m in list(queue._messages)
        ]
    return {"tables": tables, "secrets": secrets, "queues": queues}


def restore(data: dict[str, Any], clients: dict[str, Any]) -> None:
    ddb, sm, sqs = clients["dynamodb"], clients["secretsmanager"], clients["sqs"]
    provisioned = set(ddb.list_tables()["TableNames"])
    for name, items in data.get("tables", {}).items():
        if name not in provisioned:  # a table the template no longer declares (an older state dir)
            continue
        for item in items:
            ddb.put_item(TableName=name, Item=item)
    for name, value in data.get("secrets", {}).items():
        try:
            sm.put_secret_value(SecretId=name, SecretString=value)
        except sm.exceptions.ResourceNotFoundException:
            sm.create_secret(Name=name, SecretString=value)
    for name, messages in data.get("queues", {}).items():
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            continue
        for message in messages:
            kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": message["body"]}
            if message.get("attributes"):
                kwargs["MessageAttributes"] = message["attributes"]
            sqs.send_message(**kwargs)


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
