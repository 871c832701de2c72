"""The user-facing package: the domain core (`webmon.core`) and the surfaces over it, the
HTTP API (`webmon.api`), the dashboard (`webmon.web`) and the command line (`webmon.cli`)."""
