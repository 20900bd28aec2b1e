"""HAProxy: rendering the two profiles, checking a config with HAProxy itself, reading its evidence."""
