"""One module per step of a deploy; each step is a function of the run context."""
