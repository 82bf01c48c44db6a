"""Returns over HTTP: shoppers ask (with the order's token), merchants list, approve, reject and receive."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .. import config, wiring
from ..domain.ids import rfc3339
from ..domain.returns import REFUNDED, STATUSES, Return, ReturnRequested, ReturnStatusChanged
from ..services import returns
from . import presenters as present
from . import schemas as s
from .accounts import owner_of
from .common import ID, ORDER_ID, ctx
from .http import Request, Router

RETURN_ID = {"return_id": ID.format(prefix="ret")}
ReturnStatus = Literal[STATUSES]  # type: ignore[valid-type]

REASON_CODES = returns.REASON_CODES  # what the metrics count by; any other text counts as other (kept as sent)

shopper = Router("returns", "returns", cors=True)
merchant = Router("admin_returns", "returns")
ROUTERS = [shopper, merchant]


# --- schemas -------------------------------------------------------------------------------------------

Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ReturnLineIn(s.Input):
    sku: s.Sku
    quantity: s.Quantity


class ReturnIn(s.Input):
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=50)]
    reason: Reason = Field(description=f"why the goods come back: one of {', '.join(REASON_CODES)}, or free text "
                                       "(counted as other in the metrics)")


class RejectIn(s.Input):
    reason: Reason


class ReturnLineOut(s.Output):
    sku: str
    quantity: int
    refund: s.Money = Field(description="what these units refund: their share of what the line paid")


class ReturnHistoryEntry(s.Output):
    status: ReturnStatus
    at: s.Timestamp


class ReturnOut(s.Output):
    id: str
    order_id: str
    status: ReturnStatus
    lines: list[ReturnLineOut]
    refund_total: s.Money
    reason: str
    rejection_reason: str | None = None
    refund_id: str | None = Field(default=None, description="the order's refund that paid this return back")
    refunded: s.Money | None = Field(default=None, description="what that refund gave back")
    created_at: s.Timestamp
    updated_at: s.Timestamp
    history: list[ReturnHistoryEntry]


class ReturnPage(s.Output):
    items: list[ReturnOut]
    next_cursor: str | None


class ReturnQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    status: ReturnStatus | None = None
    limit: s.Limit = 20
    cursor: s.Cursor | None = None


def _out(r: Return) -> ReturnOut:
    return ReturnOut(
        id=r.id, order_id=r.order_id, status=r.status,
        lines=[ReturnLineOut(sku=ln.sku, quantity=ln.quantity, refund=present.money(ln.refund)) for ln in r.lines],
        refund_total=present.money(r.refund_total), reason=r.reason, rejection_reason=r.rejection_reason or None,
        refund_id=r.refund_id or None, refunded=None if r.refunded is None else present.money(r.refunded),
        created_at=rfc3339(r.created_at), updated_at=rfc3339(r.updated_at),
        history=[ReturnHistoryEntry(status=h.status, at=rfc3339(h.at)) for h in r.history])


# --- metrics -------------------------------------------------------------------------------------------

def _metrics(ret: Return, event) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    if isinstance(event, ReturnRequested):
        name, value = "ReturnsRequested", 1
    elif isinstance(event, ReturnStatusChanged) and event.status == REFUNDED:
        name, value = "ReturnRefundedMinorUnits", (ret.refunded or ret.refund_total).amount
    else:
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace="Shelf") as metric:
        metric.add_dimension(name="reason", value=returns.reason_code(ret.reason))


returns.observe(_metrics)


# --- shopper (order token) or merchant -----------------------------------------------------------------

@shopper.route("POST", "/orders/{order_id}/returns", summary="Ask to return units of a shipped order",
               status=201, body=ReturnIn, response=ReturnOut, order_auth=True, errors=(409,),
               path_patterns=ORDER_ID)
def request_return(req: Request, order_id: str):
    b: ReturnIn = req.body
    return _out(returns.request_return(order_id, req.bearer, [(ln.sku, ln.quantity) for ln in b.lines], b.reason,
                                       ctx(), window_days=config.return_window_days(),
                                       bootstrap_hash=config.admin_api_key_hash(), customer_id=owner_of(req)))


@shopper.route("GET", "/orders/{order_id}/returns", summary="The returns of an order, newest first",
               response=ReturnPage, order_auth=True, path_patterns=ORDER_ID)
def order_returns(req: Request, order_id: str):
    items = returns.returns_of_order(order_id, req.bearer, ctx(), bootstrap_hash=config.admin_api_key_hash(),
                                     customer_id=owner_of(req))
    return ReturnPage(items=[_out(r) for r in items], next_cursor=None)


# --- merchant ------------------------------------------------------------------------------------------

@merchant.route("GET", "/admin/returns", summary="List returns, newest first", query=ReturnQuery,
                response=ReturnPage, scope="orders:read")
def list_returns(req: Request):
    page = returns.list_returns(ctx(), status=req.query.status, limit=req.query.limit, cursor=req.query.cursor)
    return ReturnPage(items=[_out(r) for r in page.items], next_cursor=page.next_cursor)


@merchant.route("GET", "/admin/returns/{return_id}", summary="One return", response=ReturnOut,
                scope="orders:read", path_patterns=RETURN_ID)
def get_return(req: Request, return_id: str):
    return _out(returns.get_return(return_id, ctx()))


@merchant.route("POST", "/admin/returns/{return_id}/approve", summary="Approve a requested return",
                response=ReturnOut, scope="orders:write", errors=(409,), path_patterns=RETURN_ID)
def approve_return(req: Request, return_id: str):
    return _out(returns.approve(return_id, ctx()))


@merchant.route("POST", "/admin/returns/{return_id}/reject", summary="Reject a requested or approved return",
                body=RejectIn, response=ReturnOut, scope="orders:write", errors=(409,), path_patterns=RETURN_ID)
def reject_return(req: Request, return_id: str):
    return _out(returns.reject(return_id, req.body.reason, ctx()))


@merchant.route("POST", "/admin/returns/{return_id}/receive",
                summary="Receive the goods: back on hand, and the return's share refunded", response=ReturnOut,
                scope="orders:write", errors=(409,), path_patterns=RETURN_ID)
def receive_return(req: Request, return_id: str):
    return _out(returns.receive(return_id, ctx(), retry_later=wiring.queue_return_refund))
