"""AppTest helpers: open a page through the real entry point, with optional URL parameters."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

TIMEOUT = 60
APP = Path(__file__).resolve().parents[2] / "app.py"


def open_page(page: str | None = None, **params: str | list[str]) -> AppTest:
    """Run app.py, then the given page file, with `params` as the URL's query parameters."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    if page is not None:
        at.switch_page(page)  # the first run opens the page, as a shared link does
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def check_rows(at: AppTest) -> list[dict[str, str]]:
    """The 'Checked against PyTorch' table as a list of rows: the last markdown table (the frame
    draws it after the page, whose views may draw tables of their own)."""
    table = [m.value for m in at.markdown if m.value.startswith("| ")][-1]
    lines = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    header, _rule, *rows = lines
    assert header[-1] in ("agrees", "一致"), header
    return [dict(zip(header, row, strict=True)) for row in rows]


def verdict(at: AppTest, claim: str) -> str:
    """The text of the verdict element the frame keyed `verdict_<claim>`."""
    blocks = [at.main]
    while blocks:
        block = blocks.pop()
        # Some blocks (a column holding metrics) carry no id.
        if str(getattr(block.proto, "id", "")).endswith(f"-verdict_{claim}"):
            return "\n".join(m.value for m in block.markdown)
        blocks.extend(c for c in block.children.values() if isinstance(c, Block))
    raise AssertionError(f"no verdict_{claim} on the page")


def held(at: AppTest, claim: str) -> bool:
    """Whether the claim's verdict says Held (it must say Held or Did not hold here)."""
    text = verdict(at, claim)
    assert "Held" in text or "Did not hold here" in text, text
    return "Held" in text


def rerun_until(at: AppTest, done, limit_s: float = 180.0) -> AppTest:
    """Reruns (as the page's timer does in a browser) until done(at) holds."""
    deadline = time.monotonic() + limit_s
    while not done(at) and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    assert done(at)
    return at
