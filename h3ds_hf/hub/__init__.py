"""Hugging Face Hub side of h3ds-hf: dataset preparation, cards, publishing.

- :mod:`h3ds_hf.hub.features`: the row schema (one row per scene) and its documentation;
- :mod:`h3ds_hf.hub.rows`: configs, splits, source checks and the rows of a scene;
- :mod:`h3ds_hf.hub.local`: ``load_local``, the dataset built locally by the builder;
- :mod:`h3ds_hf.hub.prepare`: ``h3ds-hf prepare``, the Hub-ready Parquet folder;
- :mod:`h3ds_hf.hub.dataset_card`: its README.md card and eval.yaml;
- :mod:`h3ds_hf.hub.push`: ``h3ds-hf push``, publishing with manual gating;
- :mod:`h3ds_hf.hub.access`: ``load_h3ds``, loading with a clear gated-access error.
"""
