"""Blinded clinician review of `medqa eval` answers: items, blinding, a SQLite store, the rater app and the report.

    medqa review create --answers runs/demo/eval --output runs/review --raters 2
    medqa review serve runs/review
    medqa review report runs/review

Raters see one item at a time (a patient's message and one or two answers, system names hidden, order randomised)
and rate each answer on the axes in `medqa.review.axes`; the report un-blinds and measures preference, per-axis
distributions, flagged harms and inter-rater agreement.
"""
