"""The returns' EMF metrics: requests counted, and refunded amounts summed, by reason code."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from chalicelib.api.returns import _metrics
from chalicelib.domain.money import Money
from chalicelib.domain.returns import PaidLine, Return
from chalicelib.services.returns import reason_code

AT = datetime(2026, 11, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize("reason, code", [("damaged", "damaged"), ("Too small", "too_small"),
                                          ("wrong-item", "wrong_item"), ("my cat hates it", "other")])
def test_free_text_reasons_count_as_other_and_codes_as_themselves(reason, code):
    assert reason_code(reason) == code


def test_a_request_and_a_refund_are_emitted_with_their_reason(capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    ret = Return.request(return_id="ret_1", order_id="ord_1", order_status="shipped", shipped_at=AT,
                         paid_lines=[PaidLine("A", 2, Money(3000, "USD"))], asked=[("A", 1)], reason="Too small",
                         currency="USD", at=AT, window_days=30)
    _metrics(ret, ret.events[0])
    done = ret.approve(AT).receive(AT).mark_refunded(AT, refund_id="re_1", amount=Money(1200, "USD"))
    _metrics(done, done.events[-1])
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    values = {(m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], m["reason"]):
              m[m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]] for m in emitted}
    assert values == {("ReturnsRequested", "too_small"): [1.0], ("ReturnRefundedMinorUnits", "too_small"): [1200.0]}
