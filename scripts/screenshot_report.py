"""The README's picture of a report's top (docs/img/report_top.png), taken in chromium through playwright.

Run: .venv/bin/python scripts/screenshot_report.py [reports/main_job_report.html] [docs/img/report_top.png]
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

page_path = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/main_job_report.html").resolve()
out = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/img/report_top.png")
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1100, "height": 1300})
    page.goto(page_path.as_uri())
    page.screenshot(path=str(out))
    browser.close()
print(f"written: {out}")
