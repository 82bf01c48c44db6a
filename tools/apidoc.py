"""docs/api.md, generated from the API's OpenAPI document (what `GET /openapi.json` serves):

    python -m tools.apidoc             # write docs/api.md
    python -m tools.apidoc --check     # exit 1 if docs/api.md is not what the API says (tests run this)
    python -m tools.apidoc --url http://127.0.0.1:8000/openapi.json   # from a running store instead

Never edit docs/api.md by hand: change the routes' summaries, descriptions and pydantic models, then run
this again.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET = REPO_ROOT / "docs" / "api.md"
_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


def openapi_document() -> dict:
    """The document /openapi.json serves, built from the app in this process."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import app  # noqa: F401  (registers every route)
    from chalicelib.api.openapi import document

    return json.loads(json.dumps(document()))


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", text.lower()).replace(" ", "-")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict) -> str:
    """A schema as a short type: `string`, `integer`, [`Money`](#money), `array of Product`, `string | null`."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[`{name}`](#{_anchor(name)})"
    if "anyOf" in schema or "oneOf" in schema:
        return " \\| ".join(_type(s) for s in schema.get("anyOf") or schema.get("oneOf"))
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " \\| ".join(f"`{k}`" for k in kind)
    if kind == "array":
        return f"array of {_type(schema.get('items') or {})}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    return f"`{kind}`"


def _constraints(schema: dict) -> str:
    parts = []
    for variant in [schema, *(schema.get("anyOf") or [])]:
        for key, label in (("format", "format"), ("pattern", "pattern"), ("minLength", "min length"),
                           ("maxLength", "max length"), ("minimum", "min"), ("maximum", "max"),
                           ("exclusiveMinimum", "more than"), ("exclusiveMaximum", "less than"),
                           ("minItems", "min items"), ("maxItems", "max items")):
            if key in variant:
                parts.append(f"{label} `{variant[key]}`")
    if "default" in schema and schema["default"] is not None:
        parts.append(f"default `{json.dumps(schema['default'])}`")
    return ", ".join(parts)


def _cell(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def _operation(method: str, path: str, op: dict) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", "", _cell(op.get("summary")) + ".", ""]
    if op.get("description"):
        lines += [op["description"], ""]
    schemes = [name for requirement in op.get("security", []) for name in requirement]
    auth = {(): "none", ("merchantKey",): "merchant API key",
            ("orderToken", "merchantKey"): "the order's access token or a merchant API key"}
    lines += [f"Authentication: {auth.get(tuple(schemes), ', '.join(schemes))}.", ""]
    params = op.get("parameters") or []
    if params:
        lines += ["| parameter | in | required | type | constraints |", "|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema") or {}
            lines.append(f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                         f"{_type(schema)} | {_cell(_constraints(schema))} |")
        lines.append("")
    body = (op.get("requestBody") or {}).get("content", {})
    for media, content in body.items():
        lines += [f"Body ({media}): {_type(content.get('schema') or {})}", ""]
    lines += ["| answer | body |", "|---|---|"]
    for code, response in op.get("responses", {}).items():
        content = response.get("content") or {}
        shown = "; ".join(f"{_type(c.get('schema') or {})} ({media})" for media, c in content.items())
        lines.append(f"| `{code}` | {shown or 'empty'} |")
    return lines + [""]


def _schema(name: str, schema: dict) -> list[str]:
    lines = [f"### `{name}`", ""]
    if schema.get("description"):
        lines += [_cell(schema["description"]), ""]
    properties = schema.get("properties") or {}
    if not properties:
        return lines + [f"Type: {_type(schema)}.", ""]
    required = set(schema.get("required") or [])
    lines += ["| field | type | required | constraints | meaning |", "|---|---|---|---|---|"]
    for field, prop in properties.items():
        lines.append(f"| `{field}` | {_type(prop)} | {'yes' if field in required else 'no'} | "
                     f"{_cell(_constraints(prop))} | {_cell(prop.get('description'))} |")
    if schema.get("additionalProperties") is False:
        lines += ["", "No other fields are accepted."]
    return lines + [""]


def render(document: dict) -> str:
    info = document.get("info") or {}
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, item in (document.get("paths") or {}).items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method, path, op))
    out = [
        f"# {info.get('title', 'API')} HTTP API",
        "",
        "<!-- Generated from /openapi.json by `python -m tools.apidoc`. Do not edit: run it again. -->",
        "",
        _cell(info.get("description")),
        "",
        f"OpenAPI {document.get('openapi', '')}, version {info.get('version', '')}. A running store serves "
        "this document at `GET /openapi.json` and a browsable reference at `GET /docs`.",
        "",
        "Every error answer is an RFC 9457 problem (`application/problem+json`, schema [`Problem`](#problem));"
        " every answer carries `X-Request-Id`. Lists page with `limit` and `cursor`: pass a page's"
        " `next_cursor` back as `cursor` for the next one (`null` on the last page).",
        "",
    ]
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    if schemes:
        out += ["Authentication (`Authorization: Bearer <token>`):", ""]
        out += [f"- `{name}`: {_cell(s.get('description'))}" for name, s in schemes.items()]
        out.append("")
    out += ["## Contents", ""]
    for tag, operations in by_tag.items():
        out.append(f"- **{tag}**: " + ", ".join(
            f"[`{m.upper()} {p}`](#{_anchor(f'{m} {p}')})" for m, p, _ in operations))
    out += ["- [Schemas](#schemas)", ""]
    for tag, operations in by_tag.items():
        out += [f"## {tag}", ""]
        for method, path, op in operations:
            out += _operation(method, path, op)
    out += ["## Schemas", ""]
    for name, schema in sorted(((document.get("components") or {}).get("schemas") or {}).items()):
        out += _schema(name, schema)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.apidoc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if docs/api.md is out of date")
    parser.add_argument("--url", help="read the document from a running store's /openapi.json")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    if args.url:
        with urllib.request.urlopen(args.url, timeout=30) as response:
            document = json.loads(response.read())
    else:
        document = openapi_document()
    text = render(document)
    if args.check:
        current = args.output.read_text() if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is out of date: run `python -m tools.apidoc`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
