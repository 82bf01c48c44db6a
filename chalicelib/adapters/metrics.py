"""The Meter port as CloudWatch metrics: Powertools Metrics, written as EMF to the function's log and
flushed once per invocation (api.http's middleware), in namespace Shelf with the dimensions service and stage."""
from __future__ import annotations

from ..services.ports import Meter


class CloudWatchMeter(Meter):
    def count(self, name: str, value: int = 1) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        from ..observability import metrics

        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
