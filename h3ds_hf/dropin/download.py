"""Downloading the official release archive: resumable, md5-checked, atomic.

A download goes to ``<destination>.part``; an interrupted one is resumed from where it stopped
with an HTTP ``Range`` request (started over if the server ignores it). Once complete its md5
is compared with the catalog's and the file renamed to ``destination``: a half-downloaded or
corrupt archive never has the final name. Addresses carry no secret: the access token is the
zip's password, used only when extracting.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from h3ds_hf.errors import ChecksumError, SourceError
from h3ds_hf.release.sources import file_md5

logger = logging.getLogger(__name__)

#: Bytes read per step.
CHUNK = 1 << 20


def is_url(source: str | Path) -> bool:
    """Whether ``source`` is an http(s) address rather than a local path."""
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def download_archive(
    url: str,
    destination: str | Path,
    *,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``destination``, resuming a previous partial download.

    Args:
        url: http(s) address of the archive.
        destination: the file to create (its folder is created if needed).
        md5: expected md5 hex digest of the whole file; None skips the check.
        progress: show a tqdm bar over the bytes.
        timeout: seconds to wait for the server on each read.

    Returns:
        ``destination``.

    Raises:
        SourceError: the server is unreachable, answers with an error, or sends a web page
            (Google Drive's "cannot scan this file" page: download it in a browser, then pass
            the file's path instead of the address).
        ChecksumError: the complete file has another md5 (the partial file is removed, so a
            new call starts over).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as response:
            if offset and response.status != 206:  # the server ignored the range: start over
                logger.info("%s cannot resume; downloading it again", url)
                offset = 0
            if "text/html" in response.headers.get("Content-Type", ""):
                raise SourceError(
                    f"{url} answered with a web page, not the archive: download it in a "
                    "browser and pass the file's path"
                )
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            with (
                part.open("ab" if offset else "wb") as out,
                tqdm(
                    total=total,
                    initial=offset,
                    unit="B",
                    unit_scale=True,
                    desc="Downloading",
                    disable=not progress,
                ) as bar,
            ):
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        if total is not None and part.stat().st_size < total:  # closed early: keep the part
            raise SourceError(
                f"downloading {url} failed: the connection closed at {part.stat().st_size} of "
                f"{total} bytes; call again to resume"
            )
    except urllib.error.HTTPError as error:
        # 416: nothing left to send, the partial file is already complete.
        if not (error.code == 416 and offset):
            raise SourceError(
                f"downloading {url} failed: HTTP {error.code} {error.reason}"
            ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise SourceError(f"downloading {url} failed: {error}") from None
    if md5 is not None:
        digest = file_md5(part)
        if digest != md5:
            part.unlink()
            raise ChecksumError(f"{url}: downloaded file has md5 {digest}, expected {md5}")
    part.replace(destination)
    return destination
