"""The azure workspace: the Workspace protocol over a real Azure ML workspace, through
azure-ai-ml's MLClient and azure-identity's DefaultAzureCredential.

`target.py` finds which workspace the user means (a profile in the config file, or an Azure ML
`config.json` found upward from the working directory), `session.py` builds the MLClient (only
when the first call needs it: azure.ai.ml takes about 2 s to import, and the console's first
frame never waits for it), `convert.py` turns azure-ai-ml entities into the project's records,
`workspace.py` holds the operation groups, `operations.py` the long-running writes, `audit.py`
the console's own record of what it changed. Importing this package imports none of azure.
"""
