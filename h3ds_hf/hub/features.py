"""The columns of the H3DS Hugging Face dataset: one row per scene.

Declared once here and used by the builder (``loading_script/h3ds.py``), ``h3ds-hf prepare``
and the dataset card, so the three can never disagree. Matrices are nested fixed-length lists
of plain Arrow types (no datasets extension type), which any Parquet reader understands and
which round-trip float64 values bit for bit. The one mesh file, ``mesh_preview``, is a light
copy of the scan for the Hub's viewer (:mod:`h3ds_hf.hub.preview`); the arrays stay the truth.
"""

from __future__ import annotations

import datasets
from datasets import Features, Image, List, Mesh, Value

from h3ds_hf.hub.preview import PREVIEW_MAX_FACES
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES


def _matrix(rows: int, cols: int, dtype: str) -> List:
    """A (rows, cols) matrix as a fixed-length list of fixed-length lists."""
    return List(List(Value(dtype), length=cols), length=rows)


#: What every column holds (units, shapes, conventions); the dataset card lists these.
FIELD_DOCS: dict[str, str] = {
    "scene_id": "scene identifier (the folder name in the raw release)",
    "release": "catalog the row comes from: 'v1', 'v2' or a custom catalog's name",
    "tags": "paper tags of the scene: 'h3d-net' (the 10 scenes of H3D-Net), 'sira++'",
    "mesh_preview": "the scan decimated to at most "
    f"{PREVIEW_MAX_FACES:,} faces, as GLB (float32, mm): what the dataset viewer shows in 3D. "
    "A preview only: decoding it (trimesh) may merge vertices; score against vertices / faces",
    "vertices": "(N, 3) float64 ground-truth scan vertices in millimetres, in the exact order "
    "of the raw full_head.obj (landmark and region indices point into it)",
    "faces": "(M, 3) int32 triangles, 0-based indices into vertices",
    "landmarks": "struct of the six landmarks (" + ", ".join(LANDMARK_NAMES) + ") -> vertex index",
    "regions": "struct of the vertex regions: face (hand-annotated face with ears and neck), "
    "face_sphere (within 95 mm of the nose tip; the 'face' of the published tables), nose; "
    "each a list of vertex indices",
    "normalization_matrix": "(4, 4) float32 similarity mapping the scene (mm) into the unit "
    "sphere: the inverse of scale_mat of view 0, as the reference computes it",
    "views": "the config's views, in the published order (a view index may repeat where the "
    "official catalog repeats it); each view has the fields below",
    "views.view_index": "index of the photo in the scene (img_%04d.jpg)",
    "views.image": "RGB photo (JPEG bytes as published, about 1512x2016)",
    "views.mask": "foreground mask (PNG bytes as published; 255 = head)",
    "views.K": "(3, 3) float64 intrinsics, pixels (decomposed from world_mat)",
    "views.pose": "(4, 4) float32 camera-to-world transform, mm (decomposed from world_mat)",
    "views.world_mat": "(4, 4) float64 projection P = K [R | t] from world mm to pixels, as "
    "in cameras.npz (IDR convention)",
    "views.scale_mat": "(4, 4) float64 unit sphere -> mm similarity, as in cameras.npz",
}


def scene_features() -> Features:
    """The features of a row (a scene), in column order."""
    view = {
        "view_index": Value("int32"),
        "image": Image(),
        "mask": Image(),
        "K": _matrix(3, 3, "float64"),
        "pose": _matrix(4, 4, "float32"),
        "world_mat": _matrix(4, 4, "float64"),
        "scale_mat": _matrix(4, 4, "float64"),
    }
    return Features(
        {
            "scene_id": Value("string"),
            "release": Value("string"),
            "tags": List(Value("string")),
            "mesh_preview": Mesh(),
            "vertices": List(List(Value("float64"), length=3)),
            "faces": List(List(Value("int32"), length=3)),
            "landmarks": {name: Value("int32") for name in LANDMARK_NAMES},
            "regions": {name: List(Value("int32")) for name in REGION_NAMES},
            "normalization_matrix": _matrix(4, 4, "float32"),
            "views": List(view),
        }
    )


def dataset_info(description: str = "") -> datasets.DatasetInfo:
    """DatasetInfo with the row features (used by the builder)."""
    return datasets.DatasetInfo(description=description, features=scene_features())
