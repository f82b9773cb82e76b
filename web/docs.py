"""``/docs`` and ``/redoc`` from vendored assets: no CDN, so they work offline.

FastAPI's defaults load Swagger UI and ReDoc from a public CDN (and ReDoc its fonts from
Google); on a machine or bank network without internet the page stays blank. The files under
``static/vendor/`` come from the npm packages swagger-ui-dist 5.35.0 and redoc 2.5.4, each
with its licence beside it (FastAPI: "self-hosting JavaScript and CSS for docs"); see
``static/vendor/README.md`` for the one line changed in ReDoc.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

STATIC = "/static"
SWAGGER = f"{STATIC}/vendor/swagger-ui"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    openapi_url = app.openapi_url or "/openapi.json"

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + OAUTH2_REDIRECT,
            swagger_js_url=f"{root}{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png",
            # Swagger UI would fetch a badge from validator.swagger.io for any non-local host.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @router.get(OAUTH2_REDIRECT)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC}/vendor/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png",
            with_google_fonts=False,
        )

    return router
