"""The raw H3DS release, as the authors publish it: a folder or the encrypted zip.

- :mod:`~h3ds_hf.release.catalog`: which scenes, tags, view counts and views configs a release
  holds (the shipped ``catalogs/*.json`` and the authors' TOML shape);
- :mod:`~h3ds_hf.release.derive_catalog`: derives the shipped catalogs from the authors' ones;
- :mod:`~h3ds_hf.release.sources`: files of a folder or of the zip, read in place;
- :mod:`~h3ds_hf.release.zipcrypto`: ZipCrypto archives (written for the synthetic release);
- :mod:`~h3ds_hf.release.extract`: ``h3ds-hf extract``, md5-checked and atomic;
- :mod:`~h3ds_hf.release.reader`: validated scenes (ground truth, cameras, photos, masks);
- :mod:`~h3ds_hf.release.obj`: the exact OBJ reader and writer;
- :mod:`~h3ds_hf.release.cameras`: IDR projection matrices into intrinsics and poses.

This layer imports only the base modules (:mod:`h3ds_hf.errors`, :mod:`h3ds_hf.scene`,
:mod:`h3ds_hf.atomic`). Its entry points are re-exported at the top: ``h3ds_hf.open_release``,
``h3ds_hf.load_catalog``.
"""
