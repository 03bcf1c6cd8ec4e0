"""`/v1/docs`: an OpenAPI document as one HTML page, rendered on the server.

Why not Litestar's Swagger UI, Redoc or Scalar pages: they load their scripts and styles
from public CDNs, so the reference would be blank on a cluster without egress or a laptop
offline. This page has no script and links to nothing outside itself but the JSON
document it was rendered from.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2rem}
h3{font-family:monospace;font-size:1rem;background:#f4f4f4;padding:.4rem}
.method{display:inline-block;min-width:4.5rem;font-weight:bold}
table{border-collapse:collapse;margin:.3rem 0}
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
code{font-family:monospace}
nav li{font-family:monospace}
"""
_METHODS = ("get", "put", "post", "patch", "delete")


def render(document: dict[str, Any], *, json_path: str) -> str:
    """The whole reference: every operation with its parameters, body and answers, then
    every schema with its fields."""
    info = document.get("info", {})
    title = escape(str(info.get("title", "API")))
    operations = [
        (path, method, item[method])
        for path, item in document.get("paths", {}).items()
        for method in _METHODS
        if method in item
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title} <small>v{escape(str(info.get('version', '')))}</small></h1>",
        f'<p>The machine-readable document: <a href="{escape(json_path)}">'
        f"{escape(json_path)}</a>. Errors are RFC 9457 problem details "
        "(<code>application/problem+json</code>).</p>",
        "<nav><h2>Operations</h2><ul>",
        *(
            f'<li><a href="#{_anchor(method, path)}">{method.upper()} {escape(path)}</a></li>'
            for path, method, _ in operations
        ),
        "</ul></nav><h2>Routes</h2>",
        *(_operation(path, method, operation) for path, method, operation in operations),
        "<h2>Schemas</h2>",
        *(
            _schema(name, schema)
            for name, schema in document.get("components", {}).get("schemas", {}).items()
        ),
        "</body></html>",
    ]
    return "\n".join(parts)


def _anchor(method: str, path: str) -> str:
    return escape(f"{method}-{path}".replace("/", "_").replace("{", "").replace("}", ""))


def _operation(path: str, method: str, operation: dict[str, Any]) -> str:
    parts = [
        f'<section id="{_anchor(method, path)}"><h3><span class="method">{method.upper()}'
        f"</span>{escape(path)}</h3>"
    ]
    for key in ("summary", "description"):
        if operation.get(key):
            parts.append(f"<p>{escape(str(operation[key]))}</p>")
    parameters = operation.get("parameters", [])
    if parameters:
        parts.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th></tr>")
        parts.extend(
            f"<tr><td><code>{escape(str(p.get('name')))}</code></td>"
            f"<td>{escape(str(p.get('in')))}</td><td>{_type(p.get('schema', {}))}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td></tr>"
            for p in parameters
        )
        parts.append("</table>")
    body = operation.get("requestBody", {}).get("content", {})
    for media_type, content in body.items():
        parts.append(
            f"<p>Body (<code>{escape(media_type)}</code>): {_type(content.get('schema', {}))}</p>"
        )
    parts.append("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>")
    for status, response in operation.get("responses", {}).items():
        bodies = ", ".join(
            f"{_type(content.get('schema', {}))} <code>{escape(media_type)}</code>"
            for media_type, content in response.get("content", {}).items()
        )
        parts.append(
            f"<tr><td>{escape(str(status))}</td>"
            f"<td>{escape(str(response.get('description', '')))}</td><td>{bodies}</td></tr>"
        )
    parts.append("</table></section>")
    return "\n".join(parts)


def _schema(name: str, schema: dict[str, Any]) -> str:
    parts = [f'<section id="schema-{escape(name)}"><h3>{escape(name)}</h3>']
    if schema.get("description"):
        parts.append(f"<p>{escape(str(schema['description']))}</p>")
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if properties:
        parts.append("<table><tr><th>field</th><th>type</th><th>required</th></tr>")
        parts.extend(
            f"<tr><td><code>{escape(field)}</code></td><td>{_type(value)}</td>"
            f"<td>{'yes' if field in required else 'no'}</td></tr>"
            for field, value in properties.items()
        )
        parts.append("</table>")
    else:
        parts.append(f"<p>{_type(schema)}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: a link to a named one, `array of ...`, or its type."""
    if "$ref" in schema:
        name = escape(str(schema["$ref"]).rsplit("/", 1)[-1])
        return f'<a href="#schema-{name}">{name}</a>'
    for combinator in ("oneOf", "anyOf", "allOf"):
        if combinator in schema:
            return " | ".join(_type(option) for option in schema[combinator])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    text = " | ".join(str(k) for k in kind) if isinstance(kind, list) else str(kind or "any")
    if "enum" in schema:
        text += " (" + ", ".join(json.dumps(v) for v in schema["enum"]) + ")"
    if "format" in schema:
        text += f" ({schema['format']})"
    return escape(text)
