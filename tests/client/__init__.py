"""The Python client and the command line (a package, so its conftest is not `conftest`)."""
