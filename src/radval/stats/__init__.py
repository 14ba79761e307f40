"""radval.stats."""
