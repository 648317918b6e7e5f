"""The protocols' names and regions (no numerical code: the command line reads them cheaply)."""

PROTOCOLS: tuple[str, ...] = ("h3ds", "surface")
ALIGNMENTS: tuple[str, ...] = ("similarity", "rigid")
#: Reported regions -> (GT region aligned by the h3ds ICP, GT region scored; None = all).
EVALUATION_REGIONS: dict[str, tuple[str, str | None]] = {
    "face": ("face_sphere", "face_sphere"),
    "head": ("face", None),
}
