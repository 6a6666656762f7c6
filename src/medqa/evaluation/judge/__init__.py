"""Judge-graded evaluation: a strong model behind any OpenAI-compatible endpoint grades answers statement by
statement (K-QA: comprehensiveness and hallucination) and criterion by criterion (HealthBench rubrics).

    medqa eval --task judge --judge http://127.0.0.1:8001/v1 --judge-model NAME --judge-file kqa.jsonl
    medqa judge calibrate --labels labels.jsonl --judge http://127.0.0.1:8001/v1 --judge-model NAME

Modules: `prompts` (versioned prompt files), `client` (HTTP with timeouts, retries and backoff), `grader`
(concurrency, the cache, parsing), `items` (K-QA, HealthBench and medqa rows), `scores` (metrics with bootstrap
intervals), `calibration` (agreement with people).
"""
