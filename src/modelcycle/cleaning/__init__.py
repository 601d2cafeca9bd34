"""Cleaning: fix and remove what is wrong in labeled text, and record every change and removal.

:func:`clean` works on a :class:`~modelcycle.data.Dataset` in memory; :func:`clean_file` streams a
file of any size through the same steps, block by block, and writes the cleaned file ``x.csv``
with its siblings ``x.removed.csv``, ``x.changed.csv`` and ``x.clean_report.json`` (named after
it, so that two outputs in one folder keep their own records). The steps, in order:

1. **Fix each text**: mojibake (UTF-8 read as Latin-1, repaired by ftfy), HTML tags and entities,
   Unicode NFC, control characters, repeated whitespace.
2. **Normalise labels**: surrounding and repeated spaces; spellings that differ only in case become
   the most frequent spelling; then the user's ``label_map`` (``pos=positive``).
3. **Remove rows without a text or a label.** Labels are never filled in: filling a label from the
   row above (pandas' ``fillna(method='ffill')``) invents a label that nobody gave, and a model
   trained on it learns the file's order. Only numeric feature columns can be filled (``fill``).
4. **Resolve conflicts**: the same text with different labels (dropped, or the majority kept).
5. **Remove duplicates**: exact, or normalized (case, spacing, punctuation and HTML-insensitive).
6. **Find likely label errors** (opt-in): out-of-fold probabilities of a quick linear model and
   confident learning; reported, and removed only when asked.
7. **Fill numeric columns** (opt-in): median, mean, zero or a number.

Nothing is lost silently: every input row is either in the output or in the removed rows with its
reason, and every changed value is in the changed rows with its reason, before and after; the
report counts each action and checks that rows in = rows out + rows removed. Detection uses the
shared expressions of :mod:`modelcycle.text`, so cleaning and the EDA report mean the same thing by
"a duplicate" or "a text with HTML".


The package, by concern: ``_text`` (fixes), ``_labels`` (normalisation), ``_decide`` (missing
values, conflicts, duplicates), ``_issues`` (label errors), ``_fill`` (numeric gaps), ``_stores``
(where blocks and outputs go), ``_report`` (the summary) and ``_runner`` (the two passes).
"""

from modelcycle.cleaning._decide import REMOVAL_REASONS
from modelcycle.cleaning._issues import confident_learning, find_label_issues
from modelcycle.cleaning._report import CleanReport
from modelcycle.cleaning._runner import clean, clean_file, side_files
from modelcycle.cleaning._text import TEXT_FIXES, fix_texts

__all__ = [
    "REMOVAL_REASONS",
    "TEXT_FIXES",
    "CleanReport",
    "clean",
    "clean_file",
    "confident_learning",
    "find_label_issues",
    "fix_texts",
    "side_files",
]
