"""Task types to copy: see jobs.py."""
