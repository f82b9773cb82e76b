"""The codec server for the Temporal UI: ``POST /codec/decode`` and ``/codec/encode``.

Temporal's codec-server protocol: a JSON body ``{"payloads": [{"metadata": {k: base64},
"data": base64}]}`` answered in the same shape, with the payloads decoded (decrypted) or
encoded. It lets a person read a case's payloads in the Temporal UI, which only ever holds
ciphertext — so it is behind an API key whose role may read case payloads (supervisor,
auditor, admin), and its CORS admits only the configured UI origin
(``COLLECTFLOW_TEMPORAL_UI_ORIGIN``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api import errors
from api.auth import Action
from api.deps import AppState, StateDep, require
from models.common import Actor
from workers.codec import CodecError, EncryptionCodec, keyring_for

router = APIRouter(tags=["codec"])
CodecActor = Annotated[Actor, Depends(require(Action.CODEC))]
PayloadsBody = Annotated[
    dict[str, Any],
    Body(
        examples=[
            {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": ""}]}
        ]
    ),
]


def _payloads(body: dict[str, Any]) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads())
    except json_format.ParseError as exc:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "payloads"),
                    "msg": f"not Temporal payloads: {exc}",
                    "type": "value_error",
                }
            ]
        ) from exc


def _codec(state: AppState) -> EncryptionCodec:
    if state.codec is None:
        state.codec = EncryptionCodec(keyring_for(state.settings))
    return state.codec


def _answer(payloads: list[Any]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


@router.post("/decode", summary="Decrypt payloads for the Temporal UI")
async def decode(body: PayloadsBody, actor: CodecActor, state: StateDep) -> dict[str, Any]:
    """Roles: supervisor, auditor, admin. A payload sealed with an unknown key is a 422."""
    payloads = list(_payloads(body).payloads)
    try:
        return _answer(await _codec(state).decode(payloads))
    except CodecError as exc:
        raise RequestValidationError(
            [{"loc": ("body", "payloads"), "msg": str(exc), "type": "value_error"}]
        ) from exc


@router.post("/encode", summary="Encrypt payloads for the Temporal UI")
async def encode(body: PayloadsBody, actor: CodecActor, state: StateDep) -> dict[str, Any]:
    """Roles: supervisor, auditor, admin (the UI encodes what it sends, e.g. a signal)."""
    return _answer(await _codec(state).encode(list(_payloads(body).payloads)))


def codec_app(state: AppState) -> FastAPI:
    """Mounted at ``/codec``: its own CORS, for the UI's origin only, and the API's errors."""
    app = FastAPI(title="CollectFlow codec server", openapi_url=None, docs_url=None)
    app.state.collectflow = state
    errors.install(app)
    app.include_router(router)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[state.settings.temporal_ui_origin],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )
    return app
