"""The working columns of a cleaning run; the double underscore keeps them apart from the user's
columns."""

ROW = "__row"
TEXT = "__text"
FIXES = "__fixes"
LABEL = "__label"
FINAL = "__final"
REASON = "__reason"
DETAIL = "__detail"
EXACT = "__exact"
NORM = "__norm"
MISSING = "__missing_text"
NUM = "__num:"
