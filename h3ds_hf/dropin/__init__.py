"""The drop-in for the reference package ``h3ds`` 0.4.0: ``H3DS``, ``Mesh`` and
``error_to_color``, with the same names, arguments, return types and exception types, on
numpy 2."""

from h3ds_hf.dropin.colors import error_to_color
from h3ds_hf.dropin.dataset import H3DS
from h3ds_hf.dropin.mesh import Mesh

__all__ = ["H3DS", "Mesh", "error_to_color"]
