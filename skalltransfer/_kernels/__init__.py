"""Numeric kernels: arrays and scalars in, arrays out; no estimators here."""
