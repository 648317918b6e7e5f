"""The results the authors published with the official evaluation code (their README).

Mean chamfer distance, ground truth to reconstruction, in mm, "face" (GT region face_sphere)
and "head" (the full head), per release and views config. They are the baselines printed
beside a method's numbers in cards, reports and the Space.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedResult:
    """One published cell: a method on a release's views config, face and head in mm."""

    release: str
    method: str
    views_config: str
    face_mm: float
    head_mm: float


#: The papers that introduced each release, with their arXiv ids.
PAPERS: dict[str, tuple[str, str]] = {
    "v1": ("H3D-Net (ICCV 2021)", "2107.12512"),
    "v2": ("SIRA++ (TPAMI 2025)", "2310.08784"),
}

_TABLES: dict[str, dict[str, list[tuple[float, float]]]] = {
    # views configs 3 / 4 / 8 / 16 / 32
    "v1": {
        "IDR": [(2.79, 14.58), (1.88, 8.99), (1.83, 8.34), (1.31, 6.37), (1.25, 5.71)],
        "H3D-Net": [(1.33, 10.52), (1.35, 7.71), (1.18, 6.45), (1.05, 5.36), (1.03, 5.25)],
        "SIRA++": [(1.13, 10.84), (1.18, 8.07), (1.15, 7.08), (1.00, 6.34), (0.99, 5.79)],
    },
    # views configs 1 / 3 / 4 / 6 / 8 / 16 / 32
    "v2": {
        "SIRA++": [
            (1.56, 13.66),
            (1.18, 9.70),
            (1.21, 6.09),
            (1.05, 5.59),
            (1.18, 5.28),
            (1.08, 4.96),
            (1.03, 4.71),
        ],
    },
}
_VIEWS = {"v1": ("3", "4", "8", "16", "32"), "v2": ("1", "3", "4", "6", "8", "16", "32")}

#: Every published cell, by release, in the authors' order (methods, then views configs).
PUBLISHED_RESULTS: dict[str, list[PublishedResult]] = {
    release: [
        PublishedResult(release, method, views, face, head)
        for method, cells in methods.items()
        for views, (face, head) in zip(_VIEWS[release], cells, strict=True)
    ]
    for release, methods in _TABLES.items()
}


def published_views_configs(release: str) -> tuple[str, ...]:
    """The views configs the authors published results for, numerically ordered."""
    return _VIEWS.get(release, ())
