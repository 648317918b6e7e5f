"""The deterministic synthetic mini-H3DS: never the real data, always the real layout.

- :mod:`~h3ds_hf.synthetic.release`: a synthetic release (folder or encrypted zip) with the
  official layout, scans, photos, masks, cameras, landmarks and regions;
- :mod:`~h3ds_hf.synthetic.predictions`: perturbed reconstructions of its scenes, named as
  ``h3ds-hf evaluate`` expects them.

It powers the demo and the tests. It imports the base modules and :mod:`h3ds_hf.release`.
"""
