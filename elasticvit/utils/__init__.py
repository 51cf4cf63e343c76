"""Small shared helpers: atomic writes, stable hashing, seeded generators."""
