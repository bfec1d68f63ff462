"""Pages customers open: the preference center, and the topics and theme behind it."""
