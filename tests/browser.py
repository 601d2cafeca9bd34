"""Headless Chromium for the HTML reports' tests: load a page, probe what it shows, screenshot it.

Tests using it skip, with the reason, where Chromium is not installed (``apt-get install -y
chromium``). Set MODELCYCLE_SCREENSHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not found (apt-get install -y chromium)"
)

# Runs after the page and its images have loaded: writes what it found into the DOM.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0,
                                                 width: i.naturalWidth}));
  const found = [...document.querySelectorAll("section[id]")].map(s => ({
    id: s.id, visible: s.getBoundingClientRect().height > 0}));
  const links = [...document.querySelectorAll("nav a")].map(a => a.getAttribute("href"));
  const wide = document.documentElement.scrollWidth > window.innerWidth + 1;
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, found, links, wide});
  document.body.appendChild(out);
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM is not None
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
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--hide-scrollbars",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe(tmp_path: Path, page: Path) -> dict[str, object]:
    probed = tmp_path / f"probed-{page.name}"
    html = page.read_text(encoding="utf-8")
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(
        tmp_path,
        "--window-size=1280,900",
        "--virtual-time-budget=20000",
        "--dump-dom",
        probed.as_uri(),
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.DOTALL)
    assert found is not None, dom[-2000:]
    result: dict[str, object] = json.loads(
        found.group(1).replace("&quot;", '"').replace("&amp;", "&")
    )
    return result


def screenshot(tmp_path: Path, page: Path, name: str) -> None:
    shot = tmp_path / name
    chromium(tmp_path, "--window-size=1280,5000", f"--screenshot={shot}", page.as_uri())
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == 1280
    keep = os.environ.get("MODELCYCLE_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / name)
