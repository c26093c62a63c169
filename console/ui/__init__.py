"""The live console: a Textual app over the Workspace protocol (imported only by `amlops`)."""
