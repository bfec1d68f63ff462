"""Storage adapters for the ports in ``loopline.ports``."""
