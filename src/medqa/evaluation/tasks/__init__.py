"""Evaluation tasks, one module each: free-text QA, multiple choice, safety probes (`medqa eval --task ...`)."""
