"""Sub-commands of the ``h3ds-hf`` CLI: each module defines ``register(subparsers)``, which adds
its parser and sets ``handler`` (a function of the parsed arguments returning an exit status)."""
