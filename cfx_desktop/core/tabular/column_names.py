"""How the name rules read a column's name: as words, camel case included, each rule a list of word starts.

One reading for every rule that looks at names (the tags in `infer`, the target ranges in `reference_ranges`), so a
column is never one thing to one rule and another to the next.
"""

from __future__ import annotations

import re


def word_starts(*words: str) -> re.Pattern[str]:
    """Any of ``words`` as a whole word of the name or as its start ("glu" finds "glucose"); regular expressions
    are allowed (``bp(?!m)``: a blood pressure, not beats per minute)."""
    return re.compile(r"(^|[^a-z])(" + "|".join(words) + r")", re.I)


def as_words(name: str) -> str:
    """``name`` with its camel case split ("RestingBP" -> "Resting_BP"), for `word_starts` patterns to search."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
