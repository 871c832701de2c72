"""What a person touches: the `webmon` command line (`cli`, `doctor`) and the read model its
commands share with the HTTP API and the dashboard (`readmodel`)."""
