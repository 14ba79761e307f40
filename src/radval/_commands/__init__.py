"""Subcommand modules of the ``radval`` CLI (one per subcommand)."""
