"""A deployment: settings from the environment, typed AWS clients, bootstrap, submission,
status, dead letters, and the start-up shared by the long-running roles. Imports the rooms
below it, never the CLI."""
