"""Actions: the only code that writes state; load, decide in the domain, persist, then notify."""
