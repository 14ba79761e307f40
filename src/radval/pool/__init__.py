"""radval.pool."""
