"""Issue 6, test 5: an auditor key reads a case's timeline and its verifiable export, and every
write route answers 403 to it (the write routes are test_roles' table; here they are tried on a
live case, which stays untouched)."""

from __future__ import annotations

from pathlib import Path

from audit.export import MANIFEST, TIMELINE, ExportBundle, Manifest
from audit.heads import recorded_heads
from audit.signing import Signature, load_public_key, public_key_path
from audit.verify import verify_export
from tests.api.conftest import ApiHarness
from tests.api.test_roles import CASE, ROUTES, _body


async def test_auditor_reads_history_and_a_verifiable_export(
    api: ApiHarness, tmp_path: Path
) -> None:
    loan_id = await api.open_case(strategy="slow")
    await api.post("operator", f"/v1/cases/{loan_id}/notes", {"text": "called, no answer"})
    await api.wait_for(loan_id, lambda s: bool(s["notes"]))

    history = await api.get("auditor", f"/v1/cases/{loan_id}/history")
    assert history.status_code == 200, history.text
    entries = history.json()["entries"]
    assert any(e["kind"] == "add_note" and e["actor_role"] == "operator" for e in entries)

    response = await api.get("auditor", f"/v1/cases/{loan_id}/export")
    assert response.status_code == 200, response.text
    body = response.json()
    manifest = Manifest.model_validate(body["manifest"])
    assert manifest.workflow_id == f"case-{loan_id}"
    run_files = [run.file for run in manifest.runs]
    assert set(body["files"]) == {TIMELINE, *run_files}
    assert run_files == [f"history-{e['run_id']}.json" for e in entries[:1]]

    files = {name: text.encode() for name, text in body["files"].items()}
    out = tmp_path / "export"  # tmp_path itself holds the app's data
    signature = Signature.model_validate(body["signature"])
    ExportBundle(manifest=manifest, files=files, signature=signature).write(out)
    assert api.settings.export_signing_key is not None
    public = load_public_key(public_key_path(api.settings.export_signing_key))
    heads = await recorded_heads(api.database, manifest.workflow_id)
    result = verify_export(out, public_key=public, recorded_heads=heads)
    assert result.ok, result.problems
    assert set(result.checked) == {MANIFEST, *files}
    assert len(manifest.timeline_chain) >= len(entries)  # the export is built a moment later

    # One changed character in the served timeline is caught. (The note's text is sealed in
    # SQL and the export holds its reference, DESIGN §10: the actor's id is changed instead.)
    assert "called, no answer" not in body["files"][TIMELINE]
    tampered = body["files"][TIMELINE].replace('"operator-1"', '"operator-X"', 1)
    (out / TIMELINE).write_text(tampered, encoding="utf-8")
    result = verify_export(out)
    assert [p.file for p in result.problems] == [TIMELINE]


async def test_auditor_may_not_write(api: ApiHarness) -> None:
    """Every write route answers 403 to the auditor on a live case; the case is unchanged."""
    loan_id = await api.open_case(strategy="slow")
    before = (await api.get("auditor", f"/v1/cases/{loan_id}")).json()
    writes = [(path, example) for method, path, example, _ in ROUTES if method != "GET"]
    assert len(writes) >= 10
    for path, example in writes:
        live = path.replace(CASE, f"/v1/cases/{loan_id}")
        response = await api.post("auditor", live, _body(api, example))
        assert response.status_code == 403, (live, response.text)
        assert "role 'auditor' may not" in response.json()["detail"]
    after = (await api.get("auditor", f"/v1/cases/{loan_id}")).json()
    assert after["event_seq"] == before["event_seq"]
    assert after["notes"] == before["notes"] and after["paid_total"] == before["paid_total"]
