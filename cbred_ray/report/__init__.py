"""Reports of a finished reduction: tables and figures."""
