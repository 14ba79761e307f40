"""radval.models."""
