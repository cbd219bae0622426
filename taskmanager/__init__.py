"""Task Manager: submit, follow, list and cancel long-running tasks over HTTP."""
