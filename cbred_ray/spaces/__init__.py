"""Search spaces: architecture encodings, enumeration by index range, canonical forms."""
