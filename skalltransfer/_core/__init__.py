"""The core every model shares: the layer stack and its families, the one
fit skeleton, the training loop and the input checks. Private: the public
names are re-exported by :mod:`skalltransfer`."""
