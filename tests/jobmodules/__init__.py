"""Modules of task types that tests name in TASKMANAGER_TASKS: good ones and bad ones."""
