-- API token lifetimes are limited (default maximum 365 days from creation).
-- Tokens created before the limit, without expiry or expiring later, are
-- clamped to their creation plus 365 days (31 536 000 000 ms). A token that
-- is already past that is thereby expired.
UPDATE api_tokens
SET expires_at = created_at + 31536000000
WHERE expires_at IS NULL OR expires_at > created_at + 31536000000;
