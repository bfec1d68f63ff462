"""Channel adapters: the ways a message leaves the platform (see ``ports.Channel``)."""
