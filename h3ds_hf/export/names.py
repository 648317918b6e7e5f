"""Names the command line shows before it imports the exporters and the renderer."""

#: Export formats, as ``--format`` names them.
FORMATS: tuple[str, ...] = ("colmap", "nerfstudio", "idr")
#: Default IoU below which a view is flagged.
MIN_IOU = 0.9
