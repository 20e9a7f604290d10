//! The names of the events switchyard publishes: `<entity>.<action>` over the entities and
//! actions below (DESIGN.md "Webhooks (outbound)"), and `webhook.test`. Webhook triggers are
//! these names ([`super::webhook_schedule::check_triggers`]); the events themselves, with their
//! entities' JSON, are built by `store::events`.

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Order,
    Product,
    ChannelProduct,
    Fulfilment,
    Invoice,
    HostedPage,
    /// A channel's figure for a listing, set back after it drifted from switchyard's.
    StockDrift,
    /// A channel, whose import breaker opened or closed.
    Channel,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Order => "order",
            Entity::Product => "product",
            Entity::ChannelProduct => "channel_product",
            Entity::Fulfilment => "fulfilment",
            Entity::Invoice => "invoice",
            Entity::HostedPage => "hosted_page",
            Entity::StockDrift => "stock_drift",
            Entity::Channel => "channel",
        }
    }

    /// The key naming the entity's id beside an event's `data` (`order_id`, ...).
    pub fn id_key(self) -> &'static str {
        match self {
            Entity::Order => "order_id",
            Entity::Product => "product_id",
            Entity::ChannelProduct => "channel_product_id",
            Entity::Fulfilment => "fulfilment_id",
            Entity::Invoice => "invoice_id",
            Entity::HostedPage => "hosted_page_id",
            Entity::StockDrift => "stock_drift_id",
            Entity::Channel => "channel_id",
        }
    }
}

/// What happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Created,
    Updated,
    Excluded,
    OnHold,
    Completed,
    Corrected,
    BreakerOpened,
    BreakerClosed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Excluded => "excluded",
            Action::OnHold => "on_hold",
            Action::Completed => "completed",
            Action::Corrected => "corrected",
            Action::BreakerOpened => "breaker_opened",
            Action::BreakerClosed => "breaker_closed",
        }
    }
}

/// An event's type: one entity, one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType {
    pub entity: Entity,
    pub action: Action,
}

/// Every event type there is, entity by entity, spelled out so a name is a `&'static str` (a
/// unit test holds each name to its parts). The catalogue grew from orders, products, channel
/// products and fulfilments, each with all four actions; an invoice is only ever created or
/// updated, a hosted page only completed, a stock drift only corrected, and a channel's import
/// breaker only opened or closed, so they have those and nothing that could never be sent.
const TYPES: [(Entity, Action, &str); 22] = [
    (Entity::Order, Action::Created, "order.created"),
    (Entity::Order, Action::Updated, "order.updated"),
    (Entity::Order, Action::Excluded, "order.excluded"),
    (Entity::Order, Action::OnHold, "order.on_hold"),
    (Entity::Product, Action::Created, "product.created"),
    (Entity::Product, Action::Updated, "product.updated"),
    (Entity::Product, Action::Excluded, "product.excluded"),
    (Entity::Product, Action::OnHold, "product.on_hold"),
    (
        Entity::ChannelProduct,
        Action::Created,
        "channel_product.created",
    ),
    (
        Entity::ChannelProduct,
        Action::Updated,
        "channel_product.updated",
    ),
    (
        Entity::ChannelProduct,
        Action::Excluded,
        "channel_product.excluded",
    ),
    (
        Entity::ChannelProduct,
        Action::OnHold,
        "channel_product.on_hold",
    ),
    (Entity::Fulfilment, Action::Created, "fulfilment.created"),
    (Entity::Fulfilment, Action::Updated, "fulfilment.updated"),
    (Entity::Fulfilment, Action::Excluded, "fulfilment.excluded"),
    (Entity::Fulfilment, Action::OnHold, "fulfilment.on_hold"),
    (Entity::Invoice, Action::Created, "invoice.created"),
    (Entity::Invoice, Action::Updated, "invoice.updated"),
    (
        Entity::HostedPage,
        Action::Completed,
        "hosted_page.completed",
    ),
    (
        Entity::StockDrift,
        Action::Corrected,
        "stock_drift.corrected",
    ),
    (
        Entity::Channel,
        Action::BreakerOpened,
        "channel.breaker_opened",
    ),
    (
        Entity::Channel,
        Action::BreakerClosed,
        "channel.breaker_closed",
    ),
];

/// The type of a test send: delivered to the one endpoint asked, whatever its triggers, and
/// never a trigger itself.
pub const WEBHOOK_TEST: &str = "webhook.test";

impl EventType {
    pub fn new(entity: Entity, action: Action) -> EventType {
        EventType { entity, action }
    }

    /// Every event type, entity by entity.
    pub fn all() -> impl Iterator<Item = EventType> {
        TYPES.iter().map(|&(e, a, _)| EventType::new(e, a))
    }

    /// Every event type's name, `order.created` first.
    pub fn names() -> impl Iterator<Item = &'static str> {
        TYPES.iter().map(|&(_, _, name)| name)
    }

    /// `order.created`, ... A pair outside the catalogue (an invoice put on hold) is a bug in
    /// the caller; it is named all the same, so a log or a test shows it.
    pub fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|&&(e, a, _)| e == self.entity && a == self.action)
            .map_or("unknown", |&(_, _, name)| name)
    }

    /// The type named `name`, if it is one.
    pub fn parse(name: &str) -> Option<EventType> {
        TYPES
            .iter()
            .find(|&&(_, _, n)| n == name)
            .map(|&(e, a, _)| EventType::new(e, a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_entity_dot_action() {
        let names: Vec<&str> = EventType::names().collect();
        assert_eq!(names.len(), 22);
        assert_eq!(
            EventType::all().map(EventType::name).collect::<Vec<_>>(),
            names
        );
        for t in EventType::all() {
            assert_eq!(
                t.name(),
                format!("{}.{}", t.entity.as_str(), t.action.as_str())
            );
            assert_eq!(EventType::parse(t.name()), Some(t));
            assert_eq!(t.entity.id_key(), format!("{}_id", t.entity.as_str()));
        }
        for bad in [
            "order",
            "order.deleted",
            "webhook.test",
            "",
            "order.created.x",
            "invoice.on_hold",
            "invoice.excluded",
            "stock_drift.created",
            "channel.created",
        ] {
            assert_eq!(EventType::parse(bad), None, "{bad}");
        }
    }
}
