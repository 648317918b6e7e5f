"""The H3DS datasets builder and its dataset card template (shipped as h3ds_hf.loading_script)."""
