"""Hugging Face Hub side of h3ds-hf: dataset preparation, cards, publishing.

- :mod:`h3ds_hf.hub.features`: the row schema (one row per scene) and its documentation;
- :mod:`h3ds_hf.hub.rows`: configs, splits, source checks and the rows of a scene, and rows read
  back from Arrow;
- :mod:`h3ds_hf.hub.arrow_rows`: a scene's row as a one-row Arrow table, media not copied;
- :mod:`h3ds_hf.hub.local`: ``load_local``, the dataset built locally by the builder;
- :mod:`h3ds_hf.hub.prepare`: ``h3ds-hf prepare``, the Hub-ready Parquet folder;
- :mod:`h3ds_hf.hub.prepared`: ground truth read back from a prepared or downloaded folder;
- :mod:`h3ds_hf.hub.ground_truth`: ``open_ground_truth``, a raw release or a Hub folder;
- :mod:`h3ds_hf.hub.views`: ``open_scene_views``, the same with each view's files and camera;
- :mod:`h3ds_hf.hub.dataset_card`: its README.md card and eval.yaml;
- :mod:`h3ds_hf.hub.push`: ``h3ds-hf push``, publishing with manual gating;
- :mod:`h3ds_hf.hub.access`: ``load_h3ds``, loading with a clear gated-access error.
"""
