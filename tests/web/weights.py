"""Page weights as the tests measure them, kept beside the screenshots for a person to read
(``.data/screenshots/page-weights.json``: page name -> bytes before images)."""

from __future__ import annotations

import json

from playwright.async_api import Page

from tests.web.conftest import SCREENSHOTS
from tests.web.test_login import MAX_PAGE_BYTES, weigh

WEIGHTS = SCREENSHOTS / "page-weights.json"


async def weighed(page: Page, url: str, name: str) -> int:
    """The page's weight (as :func:`weigh`), recorded under ``name``; under 100 KB or fails."""
    weight = await weigh(page, url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    known = json.loads(WEIGHTS.read_text()) if WEIGHTS.exists() else {}
    known[name] = weight
    WEIGHTS.write_text(json.dumps(known, indent=1, sort_keys=True))
    assert weight < MAX_PAGE_BYTES, f"{name} weighs {weight} bytes"
    return weight
