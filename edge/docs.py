"""`/docs`: Swagger UI for the edge's OpenAPI document, served entirely by the edge (the assets
come from the `fastapi-offline` package), so the page works without the internet and under a
Content-Security-Policy that lets it load nothing from anywhere else."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from google.rpc import code_pb2

from edge.errors import EdgeRefusal, edge_status

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""Scripts and styles from the edge only (Swagger UI sets style attributes from script, hence
`'unsafe-inline'` for styles alone), the OpenAPI document fetched from the edge, no framing."""

_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Coder API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""
_HEADERS = {"content-security-policy": DOCS_CSP, "cache-control": "public, max-age=3600"}


def _asset(name: str) -> bytes:
    return (resources.files("fastapi_offline") / "static" / name).read_bytes()


def docs_router() -> APIRouter:
    """`/docs`, its start-up script and the Swagger UI assets (read once, at start-up)."""
    router = APIRouter(prefix="/docs", include_in_schema=False)
    assets = {name: _asset(name) for name in _ASSETS}

    @router.get("")
    async def page() -> HTMLResponse:
        return HTMLResponse(_PAGE, headers=_HEADERS)

    @router.get("/init.js")
    async def init() -> Response:
        return Response(_INIT, media_type="text/javascript; charset=utf-8", headers=_HEADERS)

    @router.get("/assets/{name}")
    async def asset(name: str) -> Response:
        if name not in assets:
            raise EdgeRefusal(
                edge_status(code_pb2.NOT_FOUND, f"no docs asset {name!r}", "ROUTE_NOT_FOUND")
            )
        return Response(assets[name], media_type=_ASSETS[name], headers=_HEADERS)

    return router
