"""The report page in a real browser: Debian's Chromium, driven by Playwright.

The page is opened from its file at a desktop width (1400 px) and a phone
width (420 px) and checked as a reader would see it: the page never scrolls
sideways, every image is decoded (the phone gets the narrow chart, drawn
legibly), no heading, chart or table overlaps another, nothing is fetched
from anywhere but the file itself, and the console stays clean. A
screenshot per width is kept in the test's temporary folder for a person
to look at.

Playwright drives the system's Chromium (``executable_path``); it never
downloads a browser. Without Chromium or Playwright the tests skip with the
reason, except under ``CI=true``, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import build_store, make_job, make_output, sample_jobs

from fabric_nb import open_fabric
from fabric_nb.report import write_report

pytestmark = pytest.mark.slow  # starts a browser

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (1400, 420)
GENERATED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _chromium() -> str:
    """The system Chromium's path, or a skip (a failure under CI=true) saying what is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = []
    if found is None:
        missing.append("Debian's chromium (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI=true a missing browser is a failure")
        pytest.skip(f"SKIPPED, NOT RUN: {reason}")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


def _awkward_jobs() -> list[Any]:
    """Sample jobs plus what stretches a page: long unbroken names, markup, a long reason."""
    jobs = sample_jobs(240)
    long_engine = "engine_" + "x" * 90
    reason = "ffmpeg exited with code 1: " + "/very/long/path/without/spaces" * 8
    odd = [
        make_job(
            f"odd_{i}",
            final_status="FAILED",
            engine_used=long_engine if i % 2 else "<script>alert(1)</script>",
            canonical_proxy_profile="profile_" + "y" * 70,
            validation_error=reason,
            started_at=datetime(2026, 9, 3 + i, 10, tzinfo=UTC),
            completed_at=datetime(2026, 9, 3 + i, 13, 5, tzinfo=UTC),
            outputs=(make_output(f"odd_{i}", 0, status="FAILED", failure_reason=reason),),
            total_clips=1,
            completed_clips=0,
            failed_clips=1,
        )
        for i in range(6)
    ]
    evil = make_job(
        "job \u202eevil\u202c",
        final_status="FAILED",
        validation_error="terminal \x1b[2J cleared",
        started_at=datetime(2026, 9, 12, 10, tzinfo=UTC),
    )
    return [*jobs, *odd, evil]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report_pages")
    made = {}
    for name, jobs in (("sample", sample_jobs(240)), ("awkward", _awkward_jobs()), ("empty", [])):
        db = build_store(folder / f"{name}.db", jobs)
        with open_fabric(db) as fabric:
            write_report(fabric, folder / f"{name}.html", generated_at=GENERATED)
        made[name] = folder / f"{name}.html"
    return made


_LAYOUT = """() => {
  const boxes = [...document.querySelectorAll(
      'main > header > *, main > section > *, main > footer')]
    .map(e => { const r = e.getBoundingClientRect();
                return {tag: e.tagName + '.' + e.className, top: r.top + scrollY,
                        bottom: r.bottom + scrollY, left: r.left, right: r.right}; })
    .filter(b => b.bottom > b.top);
  const images = [...document.images].map(i => ({
      natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
      complete: i.complete, narrow: i.currentSrc !== i.src}));
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,
          bodyScroll: document.body.scrollWidth, boxes, images,
          headings: [...document.querySelectorAll('h1, h2')].map(h => h.textContent)};
}"""


def _overlaps(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["bottom"] <= b["top"] + 0.5
                or b["bottom"] <= a["top"] + 0.5
                or a["right"] <= b["left"] + 0.5
                or b["right"] <= a["left"] + 0.5
            )
            if not apart:
                found.append((a["tag"], b["tag"]))
    return found


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["sample", "awkward", "empty"])
def test_the_report_reads_at_every_width(
    browser: Any, pages: dict[str, Path], name: str, width: int, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    left_the_file: list[str] = []
    console_errors: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("file:", "data:")):
            request_route.continue_()
        else:
            left_the_file.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.goto(pages[name].as_uri(), wait_until="load")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    layout = page.evaluate(_LAYOUT)
    page.screenshot(path=str(tmp_path / f"report-{name}-{width}.png"), full_page=True)
    page.close()

    assert left_the_file == []
    assert console_errors == []
    assert layout["scrollWidth"] <= layout["innerWidth"], "the page scrolls sideways"
    assert layout["headings"][0].startswith("Fabric history: ")
    assert _overlaps(layout["boxes"]) == []
    images = layout["images"]
    if name == "empty":
        assert images == []
        return
    assert len(images) == 1
    (chart,) = images
    assert chart["complete"]
    assert chart["natural"] > 0, "the chart did not decode"
    # The phone gets the chart drawn for its width, shown near its drawn size.
    assert chart["narrow"] is (width <= 640)
    assert chart["shown"] >= 0.75 * chart["natural"], "the chart's text is shrunk illegibly"
    assert chart["shown"] <= width


def test_the_report_prints_whole(browser: Any, pages: dict[str, Path]) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(pages["awkward"].as_uri(), wait_until="load")
    page.emulate_media(media="print")
    styles = page.evaluate(
        """() => ({
          scroll: getComputedStyle(document.querySelector('.scroll')).overflowX,
          table: getComputedStyle(document.querySelector('table')).breakInside,
          figure: getComputedStyle(document.querySelector('figure')).breakInside})"""
    )
    pdf = page.pdf(format="A4")
    page.close()
    # On paper a wide table is shown whole, and no table or chart is cut across pages.
    assert styles == {"scroll": "visible", "table": "avoid", "figure": "avoid"}
    assert pdf.startswith(b"%PDF")


def test_markup_in_the_data_is_shown_as_text(browser: Any, pages: dict[str, Path]) -> None:
    page = browser.new_page()
    page.goto(pages["awkward"].as_uri(), wait_until="load")
    scripts = page.evaluate("document.scripts.length")
    text = page.inner_text("#engines")
    page.close()
    assert scripts == 0
    assert "<script>alert(1)</script>" in text
