"""What the operator decides, as pure functions over typed values: no kopf, no HTTP.

`handlers` gathers the facts (the parsed spec, what auth reports, which Secrets exist),
asks these functions what to do and what status to show, and carries it out.
"""
