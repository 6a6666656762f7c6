"""Inference stage: prompt building, batched and streaming generation, the safety-wrapped chat session."""
