"""The agent: a loop that asks a model for tool calls and runs them against a kernel."""
