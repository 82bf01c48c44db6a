"""The benchmark's cost model: GSI write counting and pricing (the counts themselves come from real
orders on the local stack in `make bench`)."""
from __future__ import annotations

from benchmarks.cost import _index_writes, price


class _Value:
    def __init__(self, value):
        self.value = value

    def to_json(self):
        return {"S": self.value}


class _Item:
    def __init__(self, **attrs):
        self.attrs = {k: _Value(v) for k, v in attrs.items()}

    def to_json(self):
        return {"Attributes": {k: v.to_json() for k, v in self.attrs.items()}}


class _Index:
    schema = [{"AttributeName": "status"}]

    def project(self, item):
        return _Item(**{k: v.value for k, v in item.attrs.items()})


def test_a_new_index_entry_is_one_write_and_a_moved_key_is_two():
    index = _Index()
    assert _index_writes(index, None, _Item(status="paid")) == 1
    assert _index_writes(index, _Item(status="paid"), None) == 1
    assert _index_writes(index, _Item(status="pending"), _Item(status="paid")) == 2
    assert _index_writes(index, None, _Item(other="x")) == 0


def test_an_unchanged_projection_costs_no_index_write_and_a_changed_one_costs_one():
    index = _Index()
    assert _index_writes(index, _Item(status="paid", a="1"), _Item(status="paid", a="1")) == 0
    assert _index_writes(index, _Item(status="paid", a="1"), _Item(status="paid", a="2")) == 1


def test_price_per_million_orders():
    per_order = {"state_transitions": 4, "wru_table": 10, "wru_index": 0, "rru": 0, "api_requests": 2,
                 "lambda_invocations": 0, "aws_calls": {("sqs", "SendMessage"): 1}}
    dollars = price(per_order)
    assert dollars["Step Functions"] == 100.0  # $0.025 per 1,000 transitions
    assert dollars["DynamoDB writes (tables)"] == 6.25
    assert dollars["API Gateway"] == 7.0
    assert dollars["SQS"] == 0.4
