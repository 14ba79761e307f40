"""radval.report."""
