//! Accounting connectors: the platforms switchyard posts invoices to (Xero, Sage), reached with
//! an OAuth 2.0 grant the store's merchant authorizes. [`oauth`] speaks the grant.

pub mod oauth;

pub use oauth::{Endpoints, OAuth, Organisation};
