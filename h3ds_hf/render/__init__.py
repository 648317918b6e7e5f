"""Rendering on the CPU: :mod:`~h3ds_hf.render.raster`, a z-buffer of a triangle mesh seen by a
pinhole camera (per-pixel depth and visible triangle). It imports numpy and numba only, so any
layer (the synthetic release, the camera check, report images) can use it."""
