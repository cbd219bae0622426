"""``python -m taskmanager``: the command line; with no command it serves the API."""

from taskmanager.cli import main

if __name__ == "__main__":
    main()
