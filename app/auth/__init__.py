"""API keys and the principal each request acts as."""
