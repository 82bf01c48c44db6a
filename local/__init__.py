"""The offline stack (moto + Chalice's local server). Development only: nothing in the Lambda bundle imports it."""
from .stack import LocalStack, LocalStackError

__all__ = ["LocalStack", "LocalStackError"]
