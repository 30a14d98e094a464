"""Sub-command handlers of the CLI, one module per area; each exposes ``register(subparsers)``."""
