"""Evaluation stage: loss and perplexity of the base and of each adapter on held-out splits (`medqa eval`)."""
