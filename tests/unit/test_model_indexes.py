"""Every index a PynamoDB model queries is the one infra/template.yaml declares on its table: same name,
same keys, same projection (a listing that reads a keys-only index by key must not find attributes)."""
from __future__ import annotations

import pytest

from chalicelib.adapters import dynamo_pricing, dynamo_returns, models  # noqa: F401  (they register their models)
from local import infra


def _declared() -> dict[str, dict]:
    resources = infra.load_template(infra.TEMPLATE)["Resources"]
    return {lid: r["Properties"] for lid, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}


def _logical_id(table: str) -> str:
    return "".join(part.capitalize() for part in table.split("_")) + "Table"


def _model_index(index) -> dict:
    keys = {name: ("HASH" if a.is_hash_key else "RANGE") for name, a in index.Meta.attributes.items()}
    projection = index.Meta.projection
    return {"keys": sorted(keys.items()), "projection": projection.projection_type,
            "non_key": sorted(getattr(projection, "non_key_attributes", None) or ())}


def _template_index(declared: dict) -> dict:
    projection = declared["Projection"]
    return {"keys": sorted((k["AttributeName"], k["KeyType"]) for k in declared["KeySchema"]),
            "projection": projection["ProjectionType"], "non_key": sorted(projection.get("NonKeyAttributes", ()))}


@pytest.mark.parametrize("model", sorted(models._TABLES, key=lambda m: m.__name__), ids=lambda m: m.__name__)
def test_a_models_indexes_are_its_tables(model):
    table = _declared()[_logical_id(models._TABLES[model])]
    declared = {g["IndexName"]: _template_index(g) for g in table.get("GlobalSecondaryIndexes", [])}
    for name, index in model._indexes.items():
        assert name in declared, f"{model.__name__} queries {name}, which its table does not have"
        assert _model_index(index) == declared[name], (model.__name__, name)


def test_a_shared_index_queries_each_models_own_table():
    assert dynamo_returns.ReturnModel.status_shards._model is dynamo_returns.ReturnModel
    assert models.OrderModel.status_shards._model is models.OrderModel
    assert dynamo_returns.ReturnModel.created_shards._model is dynamo_returns.ReturnModel
    assert models.OrderModel.created_shards._model is models.OrderModel
