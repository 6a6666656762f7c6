"""Modeling: base-model resolution (embedded, GGUF, Hub id, local folder), quantisation, adapters, the loss."""
