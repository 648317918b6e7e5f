"""`H3DS.download`: a no-op when the release is there, else a local zip or a resumable,
md5-checked download from a loopback HTTP server, extracted as `h3ds-hf extract` does."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from h3ds_hf import H3DS
from h3ds_hf.errors import ChecksumError, SourceError
from h3ds_hf.release.reader import open_release


class Archive:
    """What the loopback server serves, and what it saw."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.content_type = "application/zip"
        self.cut_next_after: int | None = None  # drop the connection after this many bytes
        self.honour_range = True
        self.ranges: list[str | None] = []


class Handler(BaseHTTPRequestHandler):
    archive: Archive

    def do_GET(self) -> None:
        archive = self.archive
        requested = self.headers.get("Range")
        archive.ranges.append(requested)
        start = int(requested[6:-1]) if requested and archive.honour_range else 0
        if start >= len(archive.payload):
            self.send_response(416)
            self.end_headers()
            return
        body = archive.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", archive.content_type)
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(archive.payload) - 1}/*")
        self.end_headers()
        if archive.cut_next_after is not None:
            body, archive.cut_next_after = body[: archive.cut_next_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server(synthetic):
    """A loopback HTTP server serving the synthetic release zip; (url, archive)."""
    archive = Archive(synthetic.zip_path.read_bytes())
    handler = type("ArchiveHandler", (Handler,), {"archive": archive})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/h3ds.zip", archive
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def same_release(folder: Path, synthetic) -> bool:
    ours = open_release(folder, catalog_path=synthetic.catalog_path)
    theirs = open_release(synthetic.folder, catalog_path=synthetic.catalog_path)
    scene_id = theirs.catalog.scene_ids()[0]
    return not ours.missing() and np.array_equal(ours.mesh(scene_id)[0], theirs.mesh(scene_id)[0])


def test_no_op_when_available(synthetic, server):
    url, archive = server
    H3DS(synthetic.folder, config_path=synthetic.catalog_path).download(synthetic.token, source=url)
    assert archive.ranges == []


def test_url_download_resumes_checks_and_extracts(synthetic, server, tmp_path):
    url, archive = server
    target = tmp_path / "h3ds"
    target.mkdir()  # an empty folder made for the data is fine
    h3ds = H3DS(target, config_path=synthetic.catalog_path)
    assert not h3ds.is_available()
    archive.cut_next_after = len(archive.payload) // 3
    with pytest.raises(SourceError, match="failed"):
        h3ds.download(synthetic.token, source=url, progress=False)
    partial = next(tmp_path.glob("*.part"))
    assert 0 < partial.stat().st_size < len(archive.payload)
    h3ds.download(synthetic.token, source=url, progress=False)
    assert archive.ranges == [None, f"bytes={len(archive.payload) // 3}-"]
    assert h3ds.is_available() and same_release(target, synthetic)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h3ds"]  # download removed
    h3ds.download(synthetic.token, source=url)  # now a no-op
    assert len(archive.ranges) == 2


def test_a_server_ignoring_ranges_is_downloaded_again(synthetic, server, tmp_path):
    url, archive = server
    archive.honour_range = False
    archive.cut_next_after = 1000
    h3ds = H3DS(tmp_path / "h3ds", config_path=synthetic.catalog_path)
    with pytest.raises(SourceError):
        h3ds.download(synthetic.token, source=url, progress=False)
    h3ds.download(synthetic.token, source=url, progress=False)
    assert h3ds.is_available()


def test_wrong_md5_and_web_pages_are_refused(synthetic, server, tmp_path):
    url, archive = server
    catalog = tmp_path / "catalog.toml"
    text = synthetic.catalog_path.read_text()
    catalog.write_text(text.replace(synthetic.catalog.md5, "0" * 32))
    h3ds = H3DS(tmp_path / "h3ds", config_path=catalog)
    with pytest.raises(ChecksumError):
        h3ds.download(synthetic.token, source=url, progress=False)
    assert not list(tmp_path.glob("*.part")) and not (tmp_path / "h3ds").exists()
    archive.content_type = "text/html; charset=utf-8"
    with pytest.raises(SourceError, match="web page"):
        H3DS(tmp_path / "other", config_path=synthetic.catalog_path).download(
            synthetic.token, source=url, progress=False
        )


def test_local_zip_and_the_zip_itself(synthetic, tmp_path, monkeypatch):
    h3ds = H3DS(tmp_path / "h3ds", config_path=synthetic.catalog_path)
    h3ds.download(synthetic.token, source=synthetic.zip_path, progress=False)
    assert h3ds.is_available() and same_release(tmp_path / "h3ds", synthetic)
    assert synthetic.zip_path.is_file()  # a local archive is left alone
    in_place = H3DS(synthetic.zip_path, config_path=synthetic.catalog_path)
    assert not in_place.is_available()  # no token in the environment
    in_place.download(synthetic.token)
    assert in_place.is_available()


def test_no_address_known(synthetic, tmp_path):
    with pytest.raises(SourceError, match="source="):
        H3DS(tmp_path / "h3ds", config_path=synthetic.catalog_path).download(synthetic.token)
    assert H3DS(tmp_path / "h3ds").catalog.url.startswith("https://drive.google.com/")
