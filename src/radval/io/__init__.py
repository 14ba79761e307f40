"""radval.io."""
