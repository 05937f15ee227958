"""The GraphQL API: Strawberry types derived from the contracts, thin resolvers, per-request loaders."""
