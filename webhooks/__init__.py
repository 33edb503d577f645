"""Decision events out: an outbox in the record's transactions, signed deliveries to the URLs
an admin subscribed, retried until delivered or dead-lettered (docs/webhooks.md)."""
