//! switchyard's domain types and rules, free of I/O: the unified order, listings and shipments,
//! what a channel's settings may say, which orders an import takes, how list cursors read. Everything here is a pure function of its
//! arguments, unit-tested beside it; `store/` persists these types and `api/` exposes them.

pub mod accounting;
pub mod breaker;
pub mod credentials;
pub mod event_type;
pub mod filters;
pub mod fulfilment;
pub mod hosted;
pub mod invoice;
pub mod listing;
pub mod order;
pub mod order_changes;
pub mod order_events;
pub mod order_state;
pub mod paging;
pub mod plugin_rules;
pub mod secret;
pub mod settings;
pub mod shipment;
pub mod stock;
pub mod storable;
pub mod webhook_schedule;

pub use crate::error::FieldError;
pub use credentials::{
    AmazonCredentials, ChannelCredentials, EbayCredentials, ShopifyCredentials, WooCredentials,
};
pub use filters::{decide, next_sync_status, Decision};
pub use listing::{Customs, Dimensions, Listing, ListingId, Weight};
pub use order::{
    Address, ChannelKind, ChannelOrder, Customer, KitComponent, OrderCursor, OrderLine, OrderPage,
    OrderStatus, SyncStatus, Totals, UnifiedOrder,
};
pub use paging::PageCursor;
pub use secret::Secret;
pub use settings::{ChannelSettings, CountryFilter, FilterMode, ImportStart, SkuFilter};
pub use shipment::{FulfilmentLine, FulfilmentReceipt, FulfilmentRequest};
