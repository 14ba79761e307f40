"""radval.features."""
