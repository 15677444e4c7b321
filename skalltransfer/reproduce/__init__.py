"""The seed paper's experiment, end to end (``skalltransfer reproduce``).

Profiles, the run, the report and its figures, one module each.
"""
