"""What every route module shares: id patterns for path parameters, and the service context."""
from __future__ import annotations

from .. import wiring
from . import schemas as s

ID = r"^{prefix}_[a-z2-7]{{26}}$"
PRODUCT_ID = {"product_id": ID.format(prefix="prod")}
CART_ID = {"cart_id": ID.format(prefix="cart")}
ORDER_ID = {"order_id": ID.format(prefix="ord")}
SKU = {"sku": s.SKU_PATTERN}
WEBHOOK_ENDPOINT_ID = {"endpoint_id": ID.format(prefix="we")}
DELIVERY_ID = {"delivery_id": r"^we_[a-z2-7]{26}\.evt_[a-z2-7]{26}$"}


def ctx():
    return wiring.context()
