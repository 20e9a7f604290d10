-- The platform's ids of the webhook subscriptions switchyard made for a channel when it was
-- created (Shopify's `webhookSubscriptionCreate`), so deleting the channel removes them. Empty
-- for platforms whose webhooks the merchant sets up, and for channels made before this column.
ALTER TABLE channels ADD COLUMN webhook_subscriptions text[] NOT NULL DEFAULT '{}';
