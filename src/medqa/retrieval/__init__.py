"""medqa.retrieval: sentence embeddings and brute-force dense search, offline."""
