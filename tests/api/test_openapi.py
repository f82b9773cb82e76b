"""``/docs`` documents every route, with an example for every request body."""

from __future__ import annotations

from tests.api.conftest import ApiHarness


async def test_every_route_is_documented_with_examples(api: ApiHarness) -> None:
    """Each operation has a summary; each request body (JSON or Twilio's form) an example;
    the Swagger UI page is served."""
    doc = (await api.http.get("/openapi.json")).json()
    assert (await api.http.get("/docs")).status_code == 200
    missing = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if not operation.get("summary"):
                missing.append(f"{method} {path}: summary")
            body = operation.get("requestBody")
            if body is None:
                continue
            for media in body["content"].values():
                if not (media.get("examples") or media.get("example")):
                    missing.append(f"{method} {path}: example")
    assert not missing, missing
    assert len(doc["paths"]) == 26
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["type"] == "http"
    payment = doc["components"]["schemas"]["PaymentBody"]
    assert "actor" not in payment["properties"] and payment["additionalProperties"] is False
