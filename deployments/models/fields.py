"""Secrets at rest: model fields encrypted with Fernet (django-fernet-encrypted-fields), keyed by
SECRET_KEY and SALT_KEY (AIRDOCK_FIELD_KEY, or the services' secrets folder). An empty value is
stored as NULL and read back as "" so that the rest of the code sees an ordinary text field.

Encrypted values cannot be compared in SQL: filter on `__isnull` only."""
from encrypted_fields.fields import EncryptedCharField, EncryptedTextField


class _EmptyIsBlank:
    def from_db_value(self, value, expression, connection):
        return "" if value is None else super().from_db_value(value, expression, connection)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, f"deployments.models.fields.{type(self).__name__}", args, kwargs


class SecretCharField(_EmptyIsBlank, EncryptedCharField):
    """A short secret (a URL that may hold a token, a webhook secret)."""


class SecretTextField(_EmptyIsBlank, EncryptedTextField):
    """A long secret (a private key)."""
