"""metatrain package."""
