//! switchyard's domain types and rules, free of I/O: the unified order, listings and shipments,
//! what a channel's settings may say, which orders an import takes, how list cursors read. Everything here is a pure function of its
//! arguments, unit-tested beside it; `store/` persists these types and `api/` exposes them.

pub mod credentials;
pub mod event_type;
pub mod filters;
pub mod fulfilment;
pub mod listing;
pub mod order;
pub mod order_events;
pub mod paging;
pub mod plugin_rules;
pub mod secret;
pub mod settings;
pub mod shipment;
pub mod stock;
pub mod storable;
pub mod webhook_schedule;

pub use credentials::{ChannelCredentials, ShopifyCredentials, WooCredentials};
pub use filters::{decide, next_sync_status, Decision};
pub use listing::{Customs, Dimensions, Listing, ListingId, Weight};
pub use order::{
    Address, ChannelKind, ChannelOrder, Customer, KitComponent, OrderCursor, OrderLine, OrderPage,
    OrderStatus, SyncStatus, Totals, UnifiedOrder,
};
pub use paging::PageCursor;
pub use secret::Secret;
pub use settings::{ChannelSettings, CountryFilter, FilterMode, SkuFilter};
pub use shipment::{FulfilmentLine, FulfilmentReceipt, FulfilmentRequest};

/// A rule a value broke, naming the field (dotted path from the enclosing object) so an API
/// client can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A serde error with its path. serde reports a missing key at the enclosing object, so the
    /// key it names is appended to that path.
    pub fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let field = match crate::error::named_field(&message) {
            Some(key) if path == "." => key,
            // An unknown key is reported at itself, a missing one at its parent.
            Some(key) if path != key && !path.ends_with(&format!(".{key}")) => {
                format!("{path}.{key}")
            }
            _ => path,
        };
        FieldError::new(field, message)
    }

    /// The same error for a value nested under `parent` in a larger body.
    pub fn under(self, parent: &str) -> FieldError {
        let field = if self.field == "." {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        FieldError { field, ..self }
    }
}
