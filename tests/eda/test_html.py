"""eda.html in a real browser: headless Chromium loads every image and shows every section.

Skipped, with the reason, where Chromium is not installed (``apt-get install chromium``). Set
MODELCYCLE_SCREENSHOTS=DIR to keep the screenshots it takes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from modelcycle.data import Dataset
from modelcycle.eda import profile
from modelcycle.eda._render import sections

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found (apt-get install -y chromium)"
)

# Run after the page and all its images have loaded: write what was found into the DOM.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
                                                 width: i.naturalWidth}));
  const found = [...document.querySelectorAll("section[id]")].map(s => ({
    id: s.id, visible: s.getBoundingClientRect().height > 0}));
  const wide = document.documentElement.scrollWidth > window.innerWidth + 1;
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, found, wide});
  document.body.appendChild(out);
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM is not None
    profile_dir = tmp_path / "chromium-profile"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile_dir}",
        "--hide-scrollbars",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def report_dir(tmp_path: Path, reviews: object) -> Path:
    import polars as pl

    assert isinstance(reviews, pl.DataFrame)
    data = Dataset(reviews, "review_text", "sentiment", "reviews.csv")
    other = Dataset(reviews.head(10), "review_text", "sentiment", "test.csv")
    return profile(data, compare=other).write(tmp_path / "eda")


def test_every_image_loads_and_every_section_shows(tmp_path: Path, report_dir: Path) -> None:
    page = report_dir / "eda.html"
    data = json.loads((report_dir / "eda.json").read_text(encoding="utf-8"))
    probed = tmp_path / "probed.html"
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    dom = chromium(
        tmp_path,
        "--window-size=1280,900",
        "--virtual-time-budget=20000",
        "--dump-dom",
        probed.as_uri(),
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.DOTALL)
    assert found is not None, dom[-2000:]
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    images = result["images"]
    assert len(images) >= 7  # labels, lengths, vocabulary, clouds, map, numeric, compare
    assert [i["alt"] for i in images if not i["ok"]] == []
    assert [s["id"] for s in result["found"]] == [anchor for anchor, _ in sections(data)]
    assert all(s["visible"] for s in result["found"])
    assert not result["wide"], "the page scrolls sideways at 1280 px"

    shot = tmp_path / "eda.png"
    chromium(tmp_path, "--window-size=1280,4000", f"--screenshot={shot}", page.as_uri())
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == 1280
    keep = os.environ.get("MODELCYCLE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "eda.png")
