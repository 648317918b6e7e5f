"""Hugging Face Hub side of h3ds-hf: dataset preparation, cards, publishing."""
