"""From H3DS to reconstruction pipelines, and a check of its cameras against its masks.

- :mod:`~h3ds_hf.export.cameras`: a view's camera in the conventions pipelines use;
- :mod:`~h3ds_hf.export.colmap`, :mod:`~h3ds_hf.export.nerfstudio`, :mod:`~h3ds_hf.export.idr`:
  one writer per format;
- :mod:`~h3ds_hf.export.scene`: ``export_scene`` / ``export_scenes`` (``h3ds-hf export``);
- :mod:`~h3ds_hf.export.check`: ``check_cameras`` (``h3ds-hf check``), the GT scan rendered
  through each camera and compared with the view's mask.

It reads scenes through :func:`h3ds_hf.hub.views.open_scene_views` (raw folder, zip, prepared
or downloaded Hub folder) and renders with :mod:`h3ds_hf.render.raster`.
"""
