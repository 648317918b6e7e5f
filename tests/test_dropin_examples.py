"""Code written for h3ds 0.4.0 runs on h3ds_hf with only its imports changed.

The scripts of ``tests/dropin_examples/`` (in the style of the authors' three examples: the
same calls) run as they are against the reference, then with their imports swapped for
h3ds_hf's (h3ds itself made unimportable), on the synthetic release, plain and textured. Every
file the reference run wrote must be written by the drop-in run with the same vertices
(<= 1e-6 mm), faces, colours and texture coordinates; images must agree pixel for pixel but
for the rare vertex whose projection falls across a pixel border (the two camera
decompositions agree to ~1e-6, not bit for bit).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from h3ds_hf.release.obj import read_obj_attributes
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions
from h3ds_hf.synthetic.release import write_synthetic_release

pytest.importorskip("h3ds.dataset", reason="the test-only oracle h3ds==0.4.0")

EXAMPLES = Path(__file__).parent / "dropin_examples"
#: The migration: each reference import and what replaces it.
IMPORTS = {
    "from h3ds.dataset import H3DS": "from h3ds_hf import H3DS",
    "from h3ds.mesh import Mesh": "from h3ds_hf import Mesh",
    "from h3ds.utils import error_to_color": "from h3ds_hf.dropin import error_to_color",
    "from h3ds.log import logger": "import logging; logger = logging.getLogger('h3ds_hf')",
}
#: Runs a script as __main__; for the reference, with the numpy alias it still needs.
REFERENCE_RUNNER = "import numpy as np, runpy, sys; np.int = int; "
DROPIN_RUNNER = "import runpy, sys; sys.modules['h3ds'] = None; "  # importing h3ds now fails
RUN = "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
TOKEN = "example-token"


def swapped_imports(script: Path, folder: Path) -> Path:
    """A copy of ``script`` with the reference's imports replaced by h3ds_hf's."""
    text = script.read_text()
    for before, after in IMPORTS.items():
        text = text.replace(before, after)
    assert "from h3ds." not in text and "import h3ds\n" not in text
    copy = folder / script.name
    copy.write_text(text)
    return copy


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "textured"])
def release(request, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(release folder, catalog, reconstructions folder), 2 scenes of 12 views."""
    root = tmp_path_factory.mktemp("examples")
    folder = write_synthetic_release(
        root / "release", scenes=2, views=12, subdivisions=4, textured=request.param
    )
    catalog = root / "catalog.toml"
    opened = open_release(folder, catalog_path=catalog)
    recs = write_synthetic_predictions(opened, root / "recs", views_configs=["3", "8"])
    return folder, catalog, recs


def run_both(script: str, release, tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    folder, catalog, recs = release
    outputs = []
    for name, runner, path in (
        ("reference", REFERENCE_RUNNER, EXAMPLES / script),
        ("dropin", DROPIN_RUNNER, swapped_imports(EXAMPLES / script, tmp_path)),
    ):
        output = tmp_path / name
        args = ["--h3ds-path", str(folder), "--h3ds-token", TOKEN, "--config-path", str(catalog)]
        args += ["--output-dir", str(output), *extra]
        if script == "evaluate.py":
            args += ["--recs-dir", str(recs)]
        done = subprocess.run(
            [sys.executable, "-c", runner + RUN, str(path), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        outputs.append(output)
    return outputs[0], outputs[1]


def written(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def assert_same_obj(reference: Path, ours: Path) -> None:
    theirs = read_obj_attributes(reference.read_bytes(), name=str(reference), polygons="first")
    mine = read_obj_attributes(ours.read_bytes(), name=str(ours), polygons="first")
    assert len(theirs.vertices) > 0
    np.testing.assert_allclose(mine.vertices, theirs.vertices, rtol=0, atol=1e-6)
    assert np.array_equal(mine.faces, theirs.faces)
    for field in ("vertex_colors", "uvs", "normals"):
        a, b = getattr(mine, field), getattr(theirs, field)
        assert (a is None) == (b is None), field
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=field)
    assert (mine.face_uvs is None) == (theirs.face_uvs is None)
    if theirs.face_uvs is not None:
        assert np.array_equal(mine.face_uvs, theirs.face_uvs)


def assert_same_outputs(reference: Path, ours: Path) -> list[str]:
    """Compare every file of ``reference`` with its namesake in ``ours``; return the names."""
    names = sorted(written(reference))
    assert names and set(names) <= written(ours)
    for name in names:
        theirs, mine = reference / name, ours / name
        if name.endswith(".obj"):
            assert_same_obj(theirs, mine)
        elif name.endswith(".npy"):
            assert np.array_equal(np.load(mine), np.load(theirs))
        elif name.endswith(".png"):
            a, b = np.asarray(Image.open(mine)), np.asarray(Image.open(theirs))
            assert a.shape == b.shape
            assert (a != b).any(axis=-1).mean() < 1e-3, name
        elif name.endswith(".json"):
            assert json.loads(mine.read_text()).keys() == json.loads(theirs.read_text()).keys()
        else:
            raise AssertionError(f"unexpected file {name}")
    return names


def extra_files(reference: Path, ours: Path) -> set[str]:
    """What the drop-in wrote beyond the reference: only the textures of textured GT meshes."""
    return written(ours) - written(reference)


def test_normalization(release, tmp_path):
    reference, ours = run_both("normalization.py", release, tmp_path)
    names = assert_same_outputs(reference, ours)
    assert len(names) == 3
    textured = bool(extra_files(reference, ours))
    assert all(name.endswith((".mtl", ".png")) for name in extra_files(reference, ours))
    assert textured == (read_obj_attributes((ours / names[0]).read_bytes()).uvs.size > 0)


def test_project_scene(release, tmp_path):
    reference, ours = run_both("project_scene.py", release, tmp_path)
    assert len(assert_same_outputs(reference, ours)) == 8
    assert not extra_files(reference, ours)


def test_evaluate(release, tmp_path):
    reference, ours = run_both("evaluate.py", release, tmp_path)
    names = assert_same_outputs(reference, ours)
    assert len([n for n in names if n.endswith(".obj")]) == 8  # 1 scene x 2 configs x 4
    assert all(name.endswith((".mtl", ".png")) for name in extra_files(reference, ours))
    theirs = json.loads((reference / "metrics.json").read_text())
    mine = json.loads((ours / "metrics.json").read_text())
    for region in ("head", "face"):
        for scene_id, configs in theirs[region].items():
            for config, value in configs.items():
                assert mine[region][scene_id][config] == pytest.approx(value, abs=1e-6)
