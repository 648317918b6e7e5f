"""Start-up: importing the package and building the command line loads no heavy dependency."""

from __future__ import annotations

import json
import subprocess
import sys

#: Imported only by the commands that need them, when they run.
HEAVY = ("datasets", "pyarrow", "trimesh", "numba", "huggingface_hub")


def _loaded_after(code: str) -> list[str]:
    """Heavy modules loaded in a fresh interpreter after running ``code``."""
    script = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_package_and_the_cli_loads_no_heavy_dependency():
    assert _loaded_after("import h3ds_hf, h3ds_hf.cli; h3ds_hf.cli.build_parser()") == []


def test_help_and_info_on_a_raw_release_load_no_heavy_dependency(synthetic):
    code = (
        "from h3ds_hf.cli import main\n"
        f"main(['info', {str(synthetic.folder)!r}, '--catalog', {str(synthetic.catalog_path)!r}])"
    )
    assert _loaded_after(code) == []


def test_public_names_still_resolve():
    code = (
        "import h3ds_hf, h3ds_hf.evaluation as e\n"
        "assert h3ds_hf.H3DS and h3ds_hf.open_release and e.evaluate_pair and e.PROTOCOLS\n"
        "assert set(h3ds_hf.__all__) <= set(dir(h3ds_hf)) | set(h3ds_hf._EXPORTS)"
    )
    assert "trimesh" in _loaded_after(code)
