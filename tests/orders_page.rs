//! The page-level order upsert against the real PostgreSQL: it must store exactly what upserting
//! one order at a time stores, and importing the same page again must change nothing.

mod app_helpers;
mod tenant_helpers;

use app_helpers::{key, settings};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchyard::domain::{decide, ChannelSettings, Decision};
use switchyard::domain::{ChannelOrder, OrderStatus, SyncStatus};
use switchyard::store::channels::ChannelRow;
use switchyard::store::orders::{self, StoredOrder, UpsertOutcome};
use switchyard::store::AccountId;
use tenant_helpers::{
    at, channel, line, order, order_events, pool, tenant, tenant_with_channel, unique,
};

/// Three orders unlike each other: an ordinary one, an unpaid one with a nanosecond time and
/// no addresses or tags, and one with a single line.
fn page_orders() -> Vec<ChannelOrder> {
    let a = order(&unique("a"));
    let mut b = order(&unique("b"));
    b.status = OrderStatus::Unpaid;
    b.paid_at = None;
    b.shipping_address = None;
    b.billing_address = None;
    b.tags = vec![];
    b.notes = Some("leave at the door".into());
    b.channel_updated_at = at(20) + chrono::Duration::nanoseconds(123_456_789);
    let mut c = order(&unique("c"));
    c.lines = vec![line("L9", "SKU-Z", 4)];
    c.tags = vec!["b2b".into(), "rush".into()];
    vec![a, b, c]
}

fn decided(orders: &[ChannelOrder]) -> Vec<(ChannelOrder, Decision)> {
    let settings = ChannelSettings::default();
    orders
        .iter()
        .map(|o| (o.clone(), decide(&settings, o)))
        .collect()
}

async fn upsert_page(
    pool: &PgPool,
    ch: &ChannelRow,
    page: &[(ChannelOrder, Decision)],
) -> Vec<UpsertOutcome> {
    let mut tx = pool.begin().await.unwrap();
    let out = orders::upsert_page(&mut tx, ch, page).await.unwrap();
    tx.commit().await.unwrap();
    out
}

/// A stored order without what differs between two channels' copies (ids, times of writing).
async fn comparable(pool: &PgPool, account: AccountId, order_id: i64) -> StoredOrder {
    let mut s = orders::get_order(pool, account, order_id)
        .await
        .unwrap()
        .expect("the order reads back");
    s.order.id = 0;
    s.order.channel_id = 0;
    s.order.store_id = 0;
    s.order.updated_at = DateTime::<Utc>::UNIX_EPOCH;
    for l in &mut s.order.order.lines {
        l.id = None;
    }
    s
}

async fn count(pool: &PgPool, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_page_stores_what_one_order_at_a_time_stores_and_a_second_import_changes_nothing() {
    let pool = pool().await;
    let key = key(&settings());
    let t = tenant(&pool).await;
    let paged = channel(&pool, &key, t.account).await;
    let single = channel(&pool, &key, t.account).await;
    let page = decided(&page_orders());

    let first = upsert_page(&pool, &paged, &page).await;
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|o| o.created && o.changed));
    assert_eq!(
        first.iter().map(|o| o.sync_status).collect::<Vec<_>>(),
        vec![
            SyncStatus::Pending,
            SyncStatus::Excluded,
            SyncStatus::Pending
        ]
    );
    assert!(
        first.windows(2).all(|w| w[0].order_id < w[1].order_id),
        "ids follow the page"
    );

    let mut tx = pool.begin().await.unwrap();
    let mut one_by_one = Vec::new();
    for (o, d) in &page {
        one_by_one.push(orders::upsert_order(&mut tx, &single, o, d).await.unwrap());
    }
    tx.commit().await.unwrap();
    for (p, s) in first.iter().zip(&one_by_one) {
        assert_eq!(
            comparable(&pool, t.account, p.order_id).await,
            comparable(&pool, t.account, s.order_id).await
        );
        assert_eq!(
            order_events(&pool, p.order_id).await,
            order_events(&pool, s.order_id).await
        );
    }

    let stamps: Vec<DateTime<Utc>> = {
        let mut v = Vec::new();
        for o in &first {
            v.push(
                sqlx::query_scalar("SELECT updated_at FROM orders WHERE id = $1")
                    .bind(o.order_id)
                    .fetch_one(&pool)
                    .await
                    .unwrap(),
            );
        }
        v
    };
    let again = upsert_page(&pool, &paged, &page).await;
    for ((a, f), stamp) in again.iter().zip(&first).zip(&stamps) {
        assert_eq!(a.order_id, f.order_id);
        assert!(!a.created && !a.changed, "{a:?}");
        assert_eq!(a.status_change, None);
        assert_eq!(a.sync_status, f.sync_status);
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT updated_at FROM orders WHERE id = $1")
            .bind(a.order_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(now, *stamp, "no updated_at bump");
        assert_eq!(
            order_events(&pool, a.order_id).await.len(),
            1,
            "only `created`"
        );
    }
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM orders WHERE channel_id = $1",
            paged.id
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id \
             WHERE o.channel_id = $1",
            paged.id
        )
        .await,
        5,
        "lines are not duplicated"
    );
}

#[tokio::test]
async fn a_page_mixing_new_changed_and_unchanged_orders_reports_each() {
    let pool = pool().await;
    let (_, ch) = tenant_with_channel(&pool).await;
    let mut known = page_orders();
    known.truncate(2);
    let first = upsert_page(&pool, &ch, &decided(&known)).await;

    let mut next = known.clone();
    next[0].status = OrderStatus::Cancelled;
    next[0].channel_updated_at = at(60);
    next.push(order(&unique("d")));
    let out = upsert_page(&pool, &ch, &decided(&next)).await;

    assert_eq!(out[0].order_id, first[0].order_id);
    assert!(out[0].changed && !out[0].created);
    assert_eq!(
        out[0].status_change,
        Some((OrderStatus::Unshipped, OrderStatus::Cancelled))
    );
    assert_eq!(out[1].order_id, first[1].order_id);
    assert!(!out[1].changed && !out[1].created, "{:?}", out[1]);
    assert!(out[2].created);
    assert_eq!(
        order_events(&pool, first[0].order_id)
            .await
            .into_iter()
            .map(|(kind, _, to)| (kind, to))
            .collect::<Vec<_>>(),
        vec![
            ("created".to_owned(), "unshipped".to_owned()),
            ("cancelled".to_owned(), "cancelled".to_owned()),
        ]
    );
}

#[tokio::test]
async fn an_order_twice_in_one_page_is_created_once_then_seen_as_known() {
    let pool = pool().await;
    let (_, ch) = tenant_with_channel(&pool).await;
    let o = order(&unique("twice"));
    let out = upsert_page(&pool, &ch, &decided(&[o.clone(), o])).await;
    assert!(out[0].created);
    assert_eq!(out[1].order_id, out[0].order_id);
    assert!(!out[1].created && !out[1].changed, "{:?}", out[1]);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM orders WHERE channel_id = $1",
            ch.id
        )
        .await,
        1
    );
}
