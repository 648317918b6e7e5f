"""The h3ds_chamfer Space: upload reconstructions, get the paper's table, see the error in 3D.

Everything lives in the installed ``h3ds_hf`` package (:mod:`h3ds_hf.space`), so this file
needs nothing beside it. Configure the Space with the variable ``H3DS_DATASET`` (the H3DS
dataset ``ORG/NAME``) and the secret ``HF_TOKEN`` (a token granted access to it); without them
the app starts and says what to set.
"""

from h3ds_hf.space.app import build_demo

demo = build_demo()

if __name__ == "__main__":
    demo.launch()
