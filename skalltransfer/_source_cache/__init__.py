"""Where fitted source models come from: the source data handle, the
in-process and disk caches, source resolution and prefitting."""
