"""The built-in platform simulator: chat as a resident in a browser or from a script, no account needed."""
