"""The ``h3ds_chamfer`` evaluate metric folder, shipped inside the wheel so that
``evaluate.load(h3ds_hf.metric_path())`` works after ``pip install h3ds-hf``."""
