"""The h3ds_chamfer Space: upload reconstructions, get the paper's table, see the error in 3D.

- :mod:`~h3ds_hf.space.settings`: what the Space reads from its environment (the dataset, the
  token) and the ground-truth source it opens lazily, once;
- :mod:`~h3ds_hf.space.uploads`: an upload (one mesh, or a zip of a predictions folder) staged
  as a folder named like ``h3ds-hf evaluate`` expects, safely;
- :mod:`~h3ds_hf.space.tables`: the scored run as the paper's table beside the published
  results, per-scene rows and the ``h3ds-hf card`` command;
- :mod:`~h3ds_hf.space.errormesh`: the aligned prediction coloured by its error, as a GLB;
- :mod:`~h3ds_hf.space.leaderboard`: the Hub benchmark's leaderboard with the published results;
- :mod:`~h3ds_hf.space.app`: the gradio Blocks (the only module that imports gradio);
- :mod:`~h3ds_hf.space.folder`: the Space folder ``h3ds-hf space`` writes and pushes.

It sits beside :mod:`h3ds_hf.metric`: it imports the Hub layer (to open the ground truth) and
the benchmark layer (to score a folder exactly as ``h3ds-hf evaluate`` does).
"""
