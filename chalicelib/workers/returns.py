"""The returns' safety net: a return whose receiver died after its goods went back on hand (before its
refund was queued) has its refund queued again."""
from __future__ import annotations

from chalice import Blueprint, Rate

from .. import config, wiring
from ..observability import logger

return_workers = Blueprint(__name__)


@return_workers.schedule(Rate(5, unit=Rate.MINUTES), name="reconcile_returns")
def reconcile_returns(event):
    from ..services import returns

    queued = returns.finish_stalled(wiring.context(), older_than_seconds=config.return_stall_seconds(),
                                    retry=wiring.queue_return_refund)
    logger.info("reconciled received returns", extra={"queued": queued})
    return {"queued": queued}
