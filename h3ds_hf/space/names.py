"""Names the command line shows before it imports the Space's stack (gradio, the Hub client)."""

#: The gradio the Space runs (front matter ``sdk_version``; the ``space`` extra pins the same):
#: the newest 6.x, the first major that accepts huggingface_hub 2.x.
SDK_VERSION = "6.31.0"
#: Environment variable naming the ground truth (a Space variable).
DATASET_ENV = "H3DS_DATASET"
#: Environment variable of the Hub token (a Space secret; huggingface_hub reads it itself).
TOKEN_ENV = "HF_TOKEN"
