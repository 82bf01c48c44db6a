"""docs/api.md is generated from the OpenAPI document (tools.apidoc): it is never stale, and it shows
what the document says."""
from __future__ import annotations

import copy

from tools import apidoc


def test_docs_api_is_up_to_date():
    assert apidoc.main(["--check"]) == 0, "docs/api.md is stale: run `python -m tools.apidoc`"


def test_a_change_to_the_api_makes_the_page_stale(tmp_path):
    document = apidoc.openapi_document()
    changed = copy.deepcopy(document)
    changed["paths"]["/health"]["get"]["summary"] = "Still alive"
    page = tmp_path / "api.md"
    page.write_text(apidoc.render(document))

    assert apidoc.main(["--check", "--output", str(page)]) == 0
    assert apidoc.render(changed) != page.read_text()
    assert "Still alive." in apidoc.render(changed)


def test_every_operation_and_schema_is_on_the_page():
    document = apidoc.openapi_document()
    page = apidoc.render(document)

    for path, item in document["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}`" in page
    for name in document["components"]["schemas"]:
        assert f"### `{name}`" in page
    assert "| `cursor` | query | no |" in page
