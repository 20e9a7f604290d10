//! Shared set-up for the tenancy and store tests: the test database (migrated once per process),
//! fresh accounts per test (so tests run in parallel against one database without seeing each
//! other's rows), unified orders to import, and the upsert and reads that store and check them.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchyard::crypto::CredentialsKey;
use switchyard::db;
use switchyard::domain::{
    Address, ChannelKind, ChannelOrder, Customer, OrderLine, OrderStatus, Secret, Totals,
};
use switchyard::domain::{ChannelCredentials, ChannelSettings, Decision, ShopifyCredentials};
use switchyard::store::channels::{self, ChannelRow, NewChannel};
use switchyard::store::orders::{self, StoredOrder, UpsertOutcome};
use switchyard::store::{accounts, stores, AccountId};
use ulid::Ulid;

use crate::app_helpers::{key, settings};

/// A pool on the migrated test database.
pub async fn pool() -> PgPool {
    db::prepare(&settings().database)
        .await
        .expect("the test database is reachable and migrates")
}

/// A unique name, so parallel tests never collide on unique columns.
pub fn unique(what: &str) -> String {
    format!("{what}-{}", Ulid::new())
}

pub struct Tenant {
    pub account: AccountId,
    pub token: String,
}

pub async fn tenant(pool: &PgPool) -> Tenant {
    let (account, token) = accounts::create_account(pool, &unique("acct"), "test")
        .await
        .expect("account created");
    Tenant {
        account,
        token: token.token,
    }
}

/// A fresh tenant with a Shopify channel (see [`channel`]).
pub async fn tenant_with_channel(pool: &PgPool) -> (Tenant, ChannelRow) {
    let t = tenant(pool).await;
    let ch = channel(pool, &key(&settings()), t.account).await;
    (t, ch)
}

/// A store and a Shopify channel in it, written straight to the store layer (no platform check).
pub async fn channel(pool: &PgPool, key: &CredentialsKey, account: AccountId) -> ChannelRow {
    channel_with(pool, key, account, ChannelSettings::default()).await
}

pub async fn channel_with(
    pool: &PgPool,
    key: &CredentialsKey,
    account: AccountId,
    settings: ChannelSettings,
) -> ChannelRow {
    let store = stores::create(pool, account, &unique("store"))
        .await
        .expect("store created");
    let credentials = ChannelCredentials::Shopify(ShopifyCredentials {
        access_token: Secret::new("shpat_test"),
        app_secret: Secret::new("shpss_test"),
    });
    channels::create(
        pool,
        key,
        account,
        &NewChannel {
            store_id: store.id,
            name: "shop",
            base_url: "http://127.0.0.1:9/shopify/x",
            credentials: &credentials,
            settings: &settings,
        },
    )
    .await
    .expect("channel created")
}

/// Stores `o` on `ch` with `decision`, in a transaction of its own.
pub async fn upsert(
    pool: &PgPool,
    ch: &ChannelRow,
    o: &ChannelOrder,
    decision: &Decision,
) -> UpsertOutcome {
    let mut tx = pool.begin().await.expect("a transaction");
    let outcome = orders::upsert_order(&mut tx, ch, o, decision)
        .await
        .expect("order stored");
    tx.commit().await.expect("commit");
    outcome
}

/// The order `id` as `account` reads it back.
pub async fn stored_order(pool: &PgPool, account: AccountId, id: i64) -> StoredOrder {
    orders::get_order(pool, account, id)
        .await
        .expect("order read")
        .expect("the order reads back")
}

/// (kind, from status, to status) of an order's recorded channel status events, oldest first.
pub async fn order_events(pool: &PgPool, order_id: i64) -> Vec<(String, Option<String>, String)> {
    sqlx::query_as(
        "SELECT kind, from_status, to_status FROM order_events \
         WHERE order_id = $1 AND to_status IS NOT NULL ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await
    .expect("events read")
}

pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_719_842_400 + secs, 0).expect("a valid time")
}

pub fn line(id: &str, sku: &str, quantity: u32) -> OrderLine {
    OrderLine {
        id: None,
        channel_line_id: id.into(),
        sku: Some(sku.into()),
        title: format!("Item {sku}"),
        quantity,
        unit_price: "12.50".into(),
        tax: "2.50".into(),
        product_id: None,
        kit_components: vec![],
    }
}

/// A paid, unshipped order of `channel_order_id` with two lines.
pub fn order(channel_order_id: &str) -> ChannelOrder {
    let address = Address {
        name: "Ada Lovelace".into(),
        company: None,
        line1: "1 Analytical Row".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postcode: Some("N1 1AA".into()),
        country_code: "GB".into(),
    };
    ChannelOrder {
        channel_kind: ChannelKind::Shopify,
        channel_order_id: channel_order_id.into(),
        order_number: format!("#{channel_order_id}"),
        status: OrderStatus::Unshipped,
        currency: "GBP".into(),
        totals: Totals {
            subtotal: "37.50".into(),
            shipping: "4.00".into(),
            tax: "7.50".into(),
            discount: "0.00".into(),
            total: "49.00".into(),
        },
        customer: Customer {
            name: "Ada Lovelace".into(),
            email: Some("ada@example.com".into()),
            phone: None,
        },
        shipping_address: Some(address.clone()),
        billing_address: Some(address),
        lines: vec![line("L1", "SKU-A", 1), line("L2", "SKU-B", 2)],
        placed_at: at(0),
        paid_at: Some(at(10)),
        channel_updated_at: at(10),
        tags: vec!["vip".into()],
        notes: None,
        not_ready: None,
    }
}
