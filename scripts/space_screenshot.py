"""Screenshot of the Space scoring a zip of synthetic predictions, with the 3D error view.

Development aid (not shipped, not a test): launches the app on the synthetic mini-H3DS,
drives headless Chromium through the DevTools protocol (uploads the zip into the page's file
input, clicks Score, waits for the table and the 3D view) and writes a PNG. Needs Chromium
(``apt-get install -y chromium``) and ``pip install websocket-client``::

    python scripts/space_screenshot.py --output space.png
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
import time
import urllib.request
import zipfile
from base64 import b64decode
from pathlib import Path

import websocket

from h3ds_hf.hub.prepare import prepare_dataset
from h3ds_hf.release.reader import open_release
from h3ds_hf.space.app import build_demo
from h3ds_hf.space.settings import SpaceSettings
from h3ds_hf.synthetic.predictions import write_synthetic_predictions
from h3ds_hf.synthetic.release import write_synthetic_release


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Page:
    """The one tab of a headless Chromium, through the DevTools protocol."""

    def __init__(self, chromium: str, width: int, height: int) -> None:
        port = _port()
        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", f"--remote-debugging-port={port}",
             f"--window-size={width},{height}", "--use-angle=swiftshader",
             "--enable-unsafe-swiftshader", "--hide-scrollbars", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as reply:
                    tabs = [t for t in json.load(reply) if t["type"] == "page"]
                break
            except OSError:
                time.sleep(0.1)
        self.socket = websocket.create_connection(tabs[0]["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                text = self.evaluate("document.body.innerText")
                raise TimeoutError(f"{expression}; the page shows: {text}")
            time.sleep(0.5)

    def close(self) -> None:
        self.socket.close()
        self.process.kill()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("space.png"))
    parser.add_argument("--chromium", default="chromium")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="h3ds-space-shot-"))
    release = write_synthetic_release(work / "release")
    prepare_dataset(
        release, work / "h3ds", catalog_path=work / "catalog.toml", configs=["3-views"],
        progress=False,
    )  # fmt: skip
    opened = open_release(release, catalog_path=work / "catalog.toml")
    predictions = write_synthetic_predictions(opened, work / "my-method", views_configs=["3"])
    archive = work / "my-method.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(predictions.iterdir()):
            zf.write(file, f"my-method/{file.name}")

    demo = build_demo(SpaceSettings(str(work / "h3ds")))
    demo.launch(server_name="127.0.0.1", server_port=_port(), prevent_thread_lock=True, quiet=True)
    page = Page(args.chromium, 1280, 2000)
    try:
        page.call("Page.navigate", url=demo.local_url)
        page.wait_for("document.querySelector('input[type=file]') !== null")
        page.wait_for("document.body.innerText.includes('Ground truth')")
        document = page.call("DOM.getDocument")
        node = page.call(
            "DOM.querySelector", nodeId=document["root"]["nodeId"], selector="input[type=file]"
        )
        page.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(archive)])
        page.wait_for("document.body.innerText.includes('A predictions folder')")
        page.evaluate("document.getElementById('score').click()")
        page.wait_for("document.body.innerText.includes('per scene') && "
                      "document.body.innerText.includes('000') && "
                      "document.querySelector('canvas') !== null")  # fmt: skip
        time.sleep(5)  # the 3D view loads the GLB and renders
        shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        args.output.write_bytes(b64decode(shot["data"]))
        print(args.output)
    finally:
        page.close()
        demo.close()


if __name__ == "__main__":
    main()
