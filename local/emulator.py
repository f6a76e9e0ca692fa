"""Make moto's DynamoDB cost what DynamoDB's costs: two emulator mends, local only.

moto answers correctly but with costs that grow with everything a table has ever held, where
DynamoDB's do not. Two of them decide how the local stack and the benchmarks behave under load:

1. **Transactions.** ``TransactWriteItems`` deep-copies each table it touches, once per item of
   the transaction, to roll back on failure: whole tables, their stream records included. An
   intake (one transaction of several items) then costs more with every intake stored before it,
   and a busy local stack slows to timeouts (issue 8's load run). Mended: the rollback keeps a copy
   of the items the transaction names and the length of each stream, and puts them back on failure.
   What a transaction does and answers is moto's own code, unchanged.
2. **Base-table Query.** moto sorts every item of the table and then keeps one partition's; in
   DynamoDB a Query reads its partition only. Mended: a Query on the base table sees only the
   partition its key condition names (indexes are left as moto has them).

``install()`` is idempotent and process-wide (``uninstall()`` undoes it); the local stack
(local/stack.py) and the benchmarks install it; the test suite does too (tests/conftest.py), so
every test runs through it, and tests/integration/test_emulator.py compares it with moto's own
answers. Nothing here is deployed.
"""

from __future__ import annotations

import contextvars
import copy
import inspect
import types
from typing import Any

_partition: contextvars.ContextVar[tuple[Any, Any] | None] = contextvars.ContextVar("moto_partition",
                                                                                   default=None)
_undo: list[tuple[Any, str, Any]] = []  # (owner, attribute, what it was): uninstall() puts them back


def installed() -> bool:
    return bool(_undo)


def uninstall() -> None:
    while _undo:
        owner, name, value = _undo.pop()
        setattr(owner, name, value)


def _replace(owner: Any, name: str, value: Any) -> None:
    _undo.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


def install() -> None:
    if _undo:
        return
    from moto.dynamodb import models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    # 1. Transactions: the rollback copy is taken of the named items (below), not of whole tables.
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    _replace(backend_module, "copy", types.SimpleNamespace(deepcopy=deepcopy, copy=copy.copy))
    original_transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = _save_named_items(self, transact_items)
        try:
            original_transact(self, transact_items)
        except BaseException:
            _restore(saved)
            raise

    _replace(DynamoDBBackend, "transact_write_items", transact_write_items)

    # 2. Base-table Query reads its partition only.
    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        hash_key = bound.arguments.get("hash_key")
        if bound.arguments.get("index_name") or hash_key is None:
            return original_query(self, *args, **kwargs)
        token = _partition.set((self, hash_key))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _partition.reset(token)

    def all_items(self: Any) -> list[Any]:
        hint = _partition.get()
        if hint is None or hint[0] is not self:
            return original_all_items(self)
        partition = self.items.get(hint[1])  # .get: the table's defaultdict must not grow here
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]  # the query sorts them

    _replace(Table, "query", query)
    _replace(Table, "all_items", all_items)


Saved = list[tuple[Any, Any, Any, Any]]  # (table, hash key, range key, the item as it was or None)


def _save_named_items(backend: Any, transact_items: list[dict[str, Any]]) -> tuple[Saved, dict[int, tuple[Any, int]]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    items: Saved = []
    streams: dict[int, tuple[Any, int]] = {}
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto refuses it before writing anything
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        source = op.get("Item") if op_type == "Put" else op.get("Key")
        if not isinstance(source, dict) or table.hash_key_attr not in source:
            continue
        hash_key = DynamoType(source[table.hash_key_attr])
        range_key = None
        if table.range_key_attr:
            if table.range_key_attr not in source:
                continue
            range_key = DynamoType(source[table.range_key_attr])
        current = _current(table, hash_key, range_key)
        items.append((table, hash_key, range_key, copy.deepcopy(current) if current is not None else None))
        shard = getattr(table, "stream_shard", None)
        if shard is not None and id(shard) not in streams:  # the next sequence number: the pump trims the front
            streams[id(shard)] = (shard, shard.starting_sequence_number + len(shard.items))
    return items, streams


def _current(table: Any, hash_key: Any, range_key: Any) -> Any:
    partition = table.items.get(hash_key)
    if partition is None:
        return None
    return partition.get(range_key) if range_key is not None else partition


def _restore(saved: tuple[Saved, dict[int, tuple[Any, int]]]) -> None:
    items, streams = saved
    for table, hash_key, range_key, item in reversed(items):
        if range_key is not None:
            if item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    for shard, next_sequence in streams.values():
        del shard.items[max(next_sequence - shard.starting_sequence_number, 0):]
