"""Event contracts: the one declaration of every event type, its validation and versions.

- ``declare``: ``@event_contract``, how a contract is declared;
- ``identity``, ``access``, ``commerce``, ``data``: the declarations, one module per domain;
- ``registry``: the catalog built from them (current versions, upcasters, JSON Schema);
- ``envelope``: the fields every event carries; ``values``: shared value types and their rules;
- ``problems``: validation failures as stable codes with paths.
"""
