"""Powertools singletons. Other modules use these (or Logger(child=True)); nothing else configures logging."""
from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="shelf")
metrics = Metrics(namespace="Shelf", service="shelf")
