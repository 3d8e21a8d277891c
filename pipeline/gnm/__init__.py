"""The Generality-to-Mastery family: composer-style REMI generation with style adapters."""
