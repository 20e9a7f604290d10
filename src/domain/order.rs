//! The unified order (DESIGN.md "Unified order"): what every channel's orders become. Connectors
//! produce [`ChannelOrder`]s from their platforms' wire types; the order import adds switchyard's
//! own ids and sync state to make a [`UnifiedOrder`].
//!
//! Money is a decimal string (`"12.50"`) everywhere, never a float, so totals survive JSON and
//! PostgreSQL unchanged. Times are UTC.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The platform behind a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Shopify,
    #[serde(rename = "woocommerce")]
    WooCommerce,
    Ebay,
    Amazon,
}

impl ChannelKind {
    /// The kind as the API and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Shopify => "shopify",
            ChannelKind::WooCommerce => "woocommerce",
            ChannelKind::Ebay => "ebay",
            ChannelKind::Amazon => "amazon",
        }
    }
}

/// Where an order is in its life, whatever the channel calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unpaid,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Cancelled,
    Refunded,
}

/// Where an order is in switchyard's own processing (set by switchyard, never by a connector).
/// An `on_hold` or `excluded` order says why in `excluded_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Pending,
    Updated,
    Synced,
    OnHold,
    InProgress,
    Excluded,
    Failed,
}

/// Order totals, each a decimal string in the order's currency. `subtotal` is the lines before
/// discounts, so `total = subtotal - discount + shipping + tax` on both platforms.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = OrderTotals)]
pub struct Totals {
    pub subtotal: String,
    pub shipping: String,
    pub tax: String,
    pub discount: String,
    pub total: String,
}

/// Who placed the order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub name: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub phone: Option<String>,
}

/// A postal address as the channel gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    pub name: String,
    #[schema(required = true)]
    pub company: Option<String>,
    pub line1: String,
    #[schema(required = true)]
    pub line2: Option<String>,
    pub city: String,
    /// State, province or county, as the channel gives it (a code where it has one).
    #[schema(required = true)]
    pub region: Option<String>,
    #[schema(required = true)]
    pub postcode: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
}

/// A component of a kit line, filled in by switchyard from its catalogue (connectors leave it empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = OrderLineComponent)]
pub struct KitComponent {
    pub product_id: i64,
    pub sku: String,
    /// How many of it one unit of the kit holds.
    pub quantity: u32,
}

/// A line of an order: one product (or an unmatched item) and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    /// switchyard's order line id, which a fulfilment's `order_line_id` names; null only on a
    /// line not yet stored, which the API never shows.
    #[schema(required = true)]
    pub id: Option<i64>,
    /// The line's id on the channel, which a fulfilment pushed to the channel names.
    pub channel_line_id: String,
    #[schema(required = true)]
    pub sku: Option<String>,
    pub title: String,
    pub quantity: u32,
    /// Price of one unit before discounts and tax, a decimal string.
    pub unit_price: String,
    /// Tax on the whole line, a decimal string.
    pub tax: String,
    /// switchyard's product mapped to this line; null until matched.
    #[schema(required = true)]
    pub product_id: Option<i64>,
    /// What one unit of the line is made of when its product is a kit; empty otherwise.
    #[serde(default)]
    #[schema(required = true)]
    pub kit_components: Vec<KitComponent>,
}

/// An order as a connector reads it from the channel: the unified order without switchyard's ids
/// and sync state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelOrder {
    pub channel_kind: ChannelKind,
    pub channel_order_id: String,
    /// What the merchant and the customer call it (`#1001` on Shopify, `1234` on WooCommerce).
    pub order_number: String,
    pub status: OrderStatus,
    /// ISO 4217.
    pub currency: String,
    pub totals: Totals,
    pub customer: Customer,
    /// Null for an order that ships nowhere (digital goods, collection).
    #[schema(required = true)]
    pub shipping_address: Option<Address>,
    #[schema(required = true)]
    pub billing_address: Option<Address>,
    pub lines: Vec<OrderLine>,
    pub placed_at: DateTime<Utc>,
    /// Null while unpaid.
    #[schema(required = true)]
    pub paid_at: Option<DateTime<Utc>>,
    /// The channel's last-modified time: what the import cursor advances on.
    pub channel_updated_at: DateTime<Utc>,
    /// The channel's tags, and those plugin rules added.
    pub tags: Vec<String>,
    /// The order's note on the channel.
    #[schema(required = true)]
    pub notes: Option<String>,
    /// Why the channel says the order is not ready for despatch (WooCommerce's `on-hold`, a
    /// Shopify fulfilment hold, an Amazon pre-order), or `None` when it is ready as far as the
    /// channel says. Read at import and decided on there ([`crate::domain::decide`]); not
    /// stored, since the order's sync status and reason show what became of it.
    #[serde(skip)]
    pub not_ready: Option<String>,
}

impl ChannelOrder {
    /// The country the order ships to, upper-cased: the shipping address's, or the billing
    /// address's for an order without one (digital goods, collection).
    pub fn destination(&self) -> Option<String> {
        [&self.shipping_address, &self.billing_address]
            .into_iter()
            .flatten()
            .map(|a| a.country_code.trim().to_ascii_uppercase())
            .find(|c| !c.is_empty())
    }
}

/// The unified order as switchyard stores and serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnifiedOrder {
    pub id: i64,
    pub store_id: i64,
    pub channel_id: i64,
    pub sync_status: SyncStatus,
    /// When switchyard last changed its copy.
    pub updated_at: DateTime<Utc>,
    #[serde(flatten)]
    pub order: ChannelOrder,
}

/// Where an order listing starts or continues.
///
/// `Since(t)` lists orders changed at or after `t` (inclusive, so an order changed in the same
/// second as the last checkpoint is seen again rather than lost; the import is idempotent), oldest
/// change first. `Page` continues a listing already started; it is opaque and may be stored, so an
/// import interrupted mid-walk can resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderCursor {
    Since(Option<DateTime<Utc>>),
    Page(String),
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<ChannelOrder>,
    /// `None` when this was the last page.
    pub next: Option<OrderCursor>,
}

impl OrderPage {
    /// The newest `channel_updated_at` on the page: a safe checkpoint once every page up to and
    /// including this one has been stored.
    pub fn max_updated_at(&self) -> Option<DateTime<Utc>> {
        self.orders.iter().map(|o| o.channel_updated_at).max()
    }
}

/// Orders and lines the domain's unit tests build on, each test changing what it is about.
#[cfg(test)]
pub(crate) mod test_orders {
    use super::*;

    /// A fixed time: 2024-07-01 14:00 UTC.
    pub fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_719_842_400, 0).unwrap_or_default()
    }

    /// A line of `quantity` "Thing" at 10.00, as the channel sent it.
    pub fn line(channel_line_id: &str, sku: Option<&str>, quantity: u32) -> OrderLine {
        OrderLine {
            id: None,
            channel_line_id: channel_line_id.into(),
            sku: sku.map(str::to_owned),
            title: "Thing".into(),
            quantity,
            unit_price: "10.00".into(),
            tax: "0.00".into(),
            product_id: None,
            kit_components: vec![],
        }
    }

    /// An unshipped Shopify order `#1001` of `lines`, placed and paid at [`at`], without
    /// addresses.
    pub fn order(lines: Vec<OrderLine>) -> ChannelOrder {
        ChannelOrder {
            channel_kind: ChannelKind::Shopify,
            channel_order_id: "1".into(),
            order_number: "#1001".into(),
            status: OrderStatus::Unshipped,
            currency: "GBP".into(),
            totals: Totals::default(),
            customer: Customer::default(),
            shipping_address: None,
            billing_address: None,
            lines,
            placed_at: at(),
            paid_at: Some(at()),
            channel_updated_at: at(),
            tags: vec![],
            notes: None,
            not_ready: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_and_kinds_use_the_design_spelling() {
        assert_eq!(
            serde_json::to_value(OrderStatus::PartiallyShipped).ok(),
            Some(json!("partially_shipped"))
        );
        assert_eq!(
            serde_json::to_value(ChannelKind::WooCommerce).ok(),
            Some(json!("woocommerce"))
        );
        assert_eq!(
            serde_json::to_value(ChannelKind::Ebay).ok(),
            Some(json!("ebay"))
        );
        assert_eq!(
            serde_json::to_value(ChannelKind::Amazon).ok(),
            Some(json!("amazon"))
        );
        assert_eq!(
            serde_json::to_value(SyncStatus::OnHold).ok(),
            Some(json!("on_hold"))
        );
    }

    #[test]
    fn an_order_ships_to_its_shipping_country_else_its_billing_one() {
        let at = |code: &str| {
            Some(Address {
                country_code: code.into(),
                ..Address::default()
            })
        };
        let order = |shipping, billing| ChannelOrder {
            shipping_address: shipping,
            billing_address: billing,
            ..test_orders::order(vec![])
        };
        assert_eq!(
            order(at(" gb "), at("US")).destination().as_deref(),
            Some("GB")
        );
        assert_eq!(order(None, at("us")).destination().as_deref(), Some("US"));
        assert_eq!(
            order(at(" "), at("de")).destination().as_deref(),
            Some("DE")
        );
        assert_eq!(order(None, None).destination(), None);
    }

    #[test]
    fn a_unified_order_is_flat_json_and_round_trips() {
        let order = UnifiedOrder {
            id: 1,
            store_id: 2,
            channel_id: 3,
            sync_status: SyncStatus::Pending,
            updated_at: test_orders::at(),
            order: ChannelOrder {
                channel_order_id: "42".into(),
                currency: "USD".into(),
                paid_at: None,
                ..test_orders::order(vec![])
            },
        };
        let value = serde_json::to_value(&order).unwrap_or_default();
        assert_eq!(value["channel_order_id"], json!("42"));
        assert_eq!(value["status"], json!("unshipped"));
        let back: Option<UnifiedOrder> = serde_json::from_value(value).ok();
        assert_eq!(back, Some(order));
    }
}
