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
}

impl Entity {
    pub const ALL: [Entity; 4] = [
        Entity::Order,
        Entity::Product,
        Entity::ChannelProduct,
        Entity::Fulfilment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Order => "order",
            Entity::Product => "product",
            Entity::ChannelProduct => "channel_product",
            Entity::Fulfilment => "fulfilment",
        }
    }

    /// The key naming the entity's id beside an event's `data` (`order_id`, ...).
    pub fn id_key(self) -> &'static str {
        match self {
            Entity::Order => "order_id",
            Entity::Product => "product_id",
            Entity::ChannelProduct => "channel_product_id",
            Entity::Fulfilment => "fulfilment_id",
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
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Created,
        Action::Updated,
        Action::Excluded,
        Action::OnHold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Excluded => "excluded",
            Action::OnHold => "on_hold",
        }
    }
}

/// An event's type: one entity, one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType {
    pub entity: Entity,
    pub action: Action,
}

/// Every `<entity>.<action>`, rows in [`Entity::ALL`] order and columns in [`Action::ALL`]
/// order, spelled out so a name is a `&'static str` (a unit test holds them to the parts).
const NAMES: [[&str; 4]; 4] = [
    [
        "order.created",
        "order.updated",
        "order.excluded",
        "order.on_hold",
    ],
    [
        "product.created",
        "product.updated",
        "product.excluded",
        "product.on_hold",
    ],
    [
        "channel_product.created",
        "channel_product.updated",
        "channel_product.excluded",
        "channel_product.on_hold",
    ],
    [
        "fulfilment.created",
        "fulfilment.updated",
        "fulfilment.excluded",
        "fulfilment.on_hold",
    ],
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
        Entity::ALL
            .into_iter()
            .flat_map(|e| Action::ALL.into_iter().map(move |a| EventType::new(e, a)))
    }

    /// `order.created`, ...
    pub fn name(self) -> &'static str {
        NAMES[self.entity as usize][self.action as usize]
    }

    /// The type named `name`, if it is one.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::all().find(|t| t.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_entity_dot_action() {
        let names: Vec<&str> = EventType::all().map(EventType::name).collect();
        assert_eq!(names.len(), 16);
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
        ] {
            assert_eq!(EventType::parse(bad), None, "{bad}");
        }
    }
}
