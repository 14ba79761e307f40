"""radval.selection."""
