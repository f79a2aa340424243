"""Just enough of the W3C WebDriver protocol, over chromedriver's HTTP port, to check a page in headless
Chromium (Debian's ``chromium`` and ``chromium-driver``) without extra Python packages."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager

from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,1800"]


class WebDriver:
    """Just enough of the W3C WebDriver protocol (over chromedriver's HTTP port) for one page check."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": CHROMIUM, "args": ARGS}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, payload: dict | None = None):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data, {"Content-Type": "application/json"}, method=method)
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())["value"]

    def get(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def script(self, code: str, *args):
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": code, "args": list(args)})

    def screenshot(self) -> Image.Image:
        png = base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot"))
        return Image.open(io.BytesIO(png)).convert("RGB")

    def quit(self) -> None:
        self._call("DELETE", f"/session/{self.session}")


@contextmanager
def chromium_session(port: int):
    """chromedriver on ``port`` and one headless Chromium session; both are closed afterwards."""
    proc = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        for _ in range(100):
            try:
                driver = WebDriver(port)
                break
            except OSError:
                time.sleep(0.1)
        assert driver is not None, "chromedriver did not start"
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=10)
