//! The stock ledger and channel products against the real PostgreSQL: a movement per cause (an
//! order line, a cancellation, an adjustment key), kits taking their components, the quantity
//! columns always equal to the ledger's sums, and the stock plan sync-stock pushes from.

mod app_helpers;
mod tenant_helpers;

use std::collections::HashMap;

use app_helpers::{key, settings};
use sqlx::PgPool;
use switchyard::domain::Decision;
use switchyard::domain::{Listing, ListingId, OrderStatus};
use switchyard::store::channel_products::{self, PlannedStock};
use switchyard::store::products::{self, Deleted, NewProduct};
use switchyard::store::stock::{self, StockError, StockField};
use switchyard::store::{orders, AccountId};
use tenant_helpers::{
    channel, line, order, pool, stored_order, tenant, tenant_with_channel, unique,
};

async fn product(pool: &PgPool, account: AccountId, store_id: i64, sku: &str, api: i64) -> i64 {
    products::create(
        pool,
        account,
        &NewProduct {
            store_id,
            sku,
            title: &format!("Product {sku}"),
            api_quantity: Some(api),
        },
    )
    .await
    .expect("product created")
    .id
}

async fn kit(
    pool: &PgPool,
    account: AccountId,
    store_id: i64,
    sku: &str,
    parts: &[(i64, i64)],
) -> i64 {
    let id = product(pool, account, store_id, sku, 0).await;
    products::set_components(pool, account, id, parts)
        .await
        .expect("kit components set");
    id
}

/// (api, plugin) of a product, straight from its row.
async fn quantities(pool: &PgPool, id: i64) -> (i64, i64) {
    let (api, plugin): (i32, i32) =
        sqlx::query_as("SELECT api_quantity, plugin_quantity FROM products WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .expect("product read");
    (i64::from(api), i64::from(plugin))
}

async fn movement_count(pool: &PgPool, product_id: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM stock_movements WHERE product_id = $1")
        .bind(product_id)
        .fetch_one(pool)
        .await
        .expect("movements counted")
}

/// Every product of the account has quantity columns equal to the sums of its movements.
async fn assert_ledger_matches(pool: &PgPool, account: AccountId) {
    let rows: Vec<(i64, i32, i32, i64, i64)> = sqlx::query_as(
        "SELECT p.id, p.api_quantity, p.plugin_quantity, \
                COALESCE(sum(m.delta) FILTER (WHERE m.field = 'api'), 0)::bigint, \
                COALESCE(sum(m.delta) FILTER (WHERE m.field = 'plugin'), 0)::bigint \
         FROM products p LEFT JOIN stock_movements m ON m.product_id = p.id \
         WHERE p.account_id = $1 GROUP BY p.id ORDER BY p.id",
    )
    .bind(account.0)
    .fetch_all(pool)
    .await
    .expect("ledger read");
    assert!(!rows.is_empty());
    for (id, api, plugin, api_sum, plugin_sum) in rows {
        assert_eq!(
            (i64::from(api), i64::from(plugin)),
            (api_sum, plugin_sum),
            "product {id}: columns against ledger"
        );
    }
}

/// Stores an order and applies its stock in one transaction, as the import does.
async fn import(
    pool: &PgPool,
    ch: &switchyard::store::channels::ChannelRow,
    o: &switchyard::domain::ChannelOrder,
) -> (i64, Vec<i64>) {
    let mut tx = pool.begin().await.expect("tx");
    let up = orders::upsert_order(&mut tx, ch, o, &Decision::Import)
        .await
        .expect("order stored");
    let changed = stock::apply_stored_order_in_tx(&mut tx, up.order_id)
        .await
        .expect("stock applied");
    tx.commit().await.expect("commit");
    (up.order_id, changed)
}

#[tokio::test]
async fn an_order_line_imported_twice_takes_stock_once() {
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let a = product(&pool, t.account, ch.store_id, "SKU-A", 10).await;
    let b = product(&pool, t.account, ch.store_id, "SKU-B", 5).await;
    let mut o = order(&unique("o"));
    o.lines.push(line("L3", "SKU-UNKNOWN", 4));

    let (order_id, changed) = import(&pool, &ch, &o).await;
    assert_eq!(changed, {
        let mut ids = vec![a, b];
        ids.sort();
        ids
    });
    assert_eq!(quantities(&pool, a).await, (9, 0));
    assert_eq!(quantities(&pool, b).await, (3, 0));

    // The same order again, and once more with a new status: nothing is taken twice.
    let (again, changed) = import(&pool, &ch, &o).await;
    assert_eq!(again, order_id);
    assert!(changed.is_empty(), "{changed:?}");
    let mut shipped = o.clone();
    shipped.status = OrderStatus::PartiallyShipped;
    let (_, changed) = import(&pool, &ch, &shipped).await;
    assert!(changed.is_empty());
    assert_eq!(quantities(&pool, a).await, (9, 0));
    assert_eq!(quantities(&pool, b).await, (3, 0));
    assert_eq!(
        movement_count(&pool, a).await,
        2,
        "opening + one order line"
    );

    // The lines show what they were matched to.
    let stored = stored_order(&pool, t.account, order_id).await;
    let by_sku: HashMap<_, _> = stored
        .order
        .order
        .lines
        .iter()
        .map(|l| (l.sku.clone().unwrap_or_default(), l.product_id))
        .collect();
    assert_eq!(by_sku["SKU-A"], Some(a));
    assert_eq!(by_sku["SKU-B"], Some(b));
    assert_eq!(by_sku["SKU-UNKNOWN"], None);
    assert_ledger_matches(&pool, t.account).await;
}

#[tokio::test]
async fn a_kit_line_takes_its_components_and_a_cancellation_puts_them_back_once() {
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let a = product(&pool, t.account, ch.store_id, "SKU-A", 20).await;
    let b = product(&pool, t.account, ch.store_id, "SKU-B", 10).await;
    let k = kit(&pool, t.account, ch.store_id, "KIT-AB", &[(a, 2), (b, 1)]).await;
    let before = products::get(&pool, t.account, k).await.unwrap().unwrap();
    assert!(before.is_kit);
    assert_eq!(before.available_quantity, 10, "min(20/2, 10/1)");

    let mut o = order(&unique("o"));
    o.lines = vec![line("L1", "KIT-AB", 3), line("L2", "SKU-A", 1)];
    let (order_id, changed) = import(&pool, &ch, &o).await;
    let mut expected = vec![a, b];
    expected.sort();
    assert_eq!(changed, expected);
    assert_eq!(quantities(&pool, a).await, (13, 0), "20 - 2x3 - 1");
    assert_eq!(quantities(&pool, b).await, (7, 0), "10 - 1x3");
    assert_eq!(
        quantities(&pool, k).await,
        (0, 0),
        "a kit's own columns never move"
    );
    let after = products::get(&pool, t.account, k).await.unwrap().unwrap();
    assert_eq!(after.available_quantity, 6, "min(13/2, 7/1)");
    let stored = stored_order(&pool, t.account, order_id).await;
    let kit_line = stored
        .order
        .order
        .lines
        .iter()
        .find(|l| l.channel_line_id == "L1")
        .unwrap();
    assert_eq!(kit_line.product_id, Some(k));
    assert_eq!(kit_line.kit_components.len(), 2);

    // The recipe changes after the sale: the cancellation still returns what was taken.
    products::set_components(&pool, t.account, k, &[(a, 5)])
        .await
        .unwrap();
    for round in 0..2 {
        let mut tx = pool.begin().await.unwrap();
        let restored = stock::restore_order_in_tx(&mut tx, order_id).await.unwrap();
        tx.commit().await.unwrap();
        if round == 0 {
            assert_eq!(restored, expected);
        } else {
            assert!(
                restored.is_empty(),
                "a second cancellation restores nothing"
            );
        }
        assert_eq!(quantities(&pool, a).await, (20, 0));
        assert_eq!(quantities(&pool, b).await, (10, 0));
    }
    let cancels: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock_movements WHERE order_id = $1 AND cause_kind = 'order_cancel'",
    )
    .bind(order_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        cancels, 3,
        "one per movement the order made (A and B for L1, A for L2)"
    );
    assert_ledger_matches(&pool, t.account).await;
}

#[tokio::test]
async fn set_and_adjust_are_idempotent_on_their_cause() {
    let pool = pool().await;
    let t = tenant(&pool).await;
    let other = tenant(&pool).await;
    let ch = channel(&pool, &key(&settings()), t.account).await;
    let a = product(&pool, t.account, ch.store_id, "SKU-A", 0).await;

    let set = stock::set_api_quantity(&pool, t.account, a, 10, "set-1")
        .await
        .unwrap();
    assert!(!set.replayed);
    assert_eq!((set.movement.delta, set.movement.quantity_after), (10, 10));
    // The same set again after a sale does not undo the sale.
    stock::adjust_api_quantity(&pool, t.account, a, -4, "sale")
        .await
        .unwrap();
    let again = stock::set_api_quantity(&pool, t.account, a, 10, "set-1")
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.movement, set.movement);
    assert_eq!(quantities(&pool, a).await, (6, 0));

    let first = stock::adjust_api_quantity(&pool, t.account, a, 5, "key-1")
        .await
        .unwrap();
    assert_eq!(
        (first.movement.delta, first.movement.quantity_after),
        (5, 11)
    );
    stock::adjust_api_quantity(&pool, t.account, a, 1, "key-2")
        .await
        .unwrap();
    let replay = stock::adjust_api_quantity(&pool, t.account, a, 5, "key-1")
        .await
        .unwrap();
    assert!(replay.replayed);
    assert_eq!(
        replay.movement, first.movement,
        "same answer, quantity as it was then"
    );
    assert_eq!(quantities(&pool, a).await, (12, 0));
    assert!(matches!(
        stock::adjust_api_quantity(&pool, t.account, a, 7, "key-1").await,
        Err(StockError::KeyReused { delta: 5, .. })
    ));

    // Out of range, a kit, another account: refused, nothing written.
    let count = movement_count(&pool, a).await;
    assert!(matches!(
        stock::adjust_api_quantity(&pool, t.account, a, i64::from(i32::MAX), "huge").await,
        Err(StockError::Invalid(e)) if e.field == "delta"
    ));
    assert!(matches!(
        stock::adjust_api_quantity(&pool, other.account, a, 1, "theirs").await,
        Err(StockError::NotFound(_))
    ));
    assert_eq!(movement_count(&pool, a).await, count);
    let k = kit(&pool, t.account, ch.store_id, "KIT", &[(a, 1)]).await;
    assert!(matches!(
        stock::set_api_quantity(&pool, t.account, k, 3, "kit-set").await,
        Err(StockError::Invalid(e)) if e.field == "api_quantity"
    ));

    // Plugin reports: their own field, once per report.
    for _ in 0..2 {
        let mut conn = pool.acquire().await.unwrap();
        let change = stock::set_plugin_quantity(&mut conn, a, 4, "report-1")
            .await
            .unwrap();
        assert_eq!(change.movement.field, StockField::Plugin);
    }
    assert_eq!(quantities(&pool, a).await, (12, 4));
    let p = products::get(&pool, t.account, a).await.unwrap().unwrap();
    assert_eq!(p.available_quantity, 16);

    let listed = stock::movements(&pool, t.account, a, None, 100)
        .await
        .unwrap()
        .unwrap();
    let running: Vec<(i64, i64)> = listed
        .iter()
        .filter(|m| m.field == StockField::Api)
        .map(|m| (m.delta, m.quantity_after))
        .collect();
    assert_eq!(running, vec![(0, 0), (10, 10), (-4, 6), (5, 11), (1, 12)]);
    assert!(stock::movements(&pool, other.account, a, None, 100)
        .await
        .unwrap()
        .is_none());
    assert_ledger_matches(&pool, t.account).await;
}

#[tokio::test]
async fn concurrent_changes_keep_the_columns_equal_to_the_ledger() {
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let a = product(&pool, t.account, ch.store_id, "SKU-A", 100).await;
    let b = product(&pool, t.account, ch.store_id, "SKU-B", 100).await;
    let k = kit(&pool, t.account, ch.store_id, "KIT", &[(a, 1), (b, 2)]).await;

    // 20 keys, each sent twice at once, beside 10 orders (each imported twice) taking A, B and
    // the kit.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let pool = pool.clone();
        let account = t.account;
        tasks.push(tokio::spawn(async move {
            stock::adjust_api_quantity(&pool, account, a, -1, &format!("k{}", i % 20))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
    }
    let mut imports = Vec::new();
    for i in 0..20 {
        let pool = pool.clone();
        let ch = ch.clone();
        imports.push(tokio::spawn(async move {
            let mut o = order(&format!("conc-{}-{}", ch.id, i % 10));
            o.lines = vec![
                line("L1", "SKU-A", 1),
                line("L2", "KIT", 1),
                line("L3", "SKU-B", 1),
            ];
            // A duplicate import may lose the insert race; the import retries such a job.
            for _ in 0..5 {
                let mut tx = pool.begin().await.unwrap();
                let Ok(up) = orders::upsert_order(&mut tx, &ch, &o, &Decision::Import).await else {
                    continue;
                };
                if stock::apply_stored_order_in_tx(&mut tx, up.order_id)
                    .await
                    .is_ok()
                    && tx.commit().await.is_ok()
                {
                    return true;
                }
            }
            false
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for task in imports {
        assert!(task.await.unwrap(), "an import went through");
    }
    // A: 100 - 20 adjustments - 10 orders x (1 + 1 in the kit) = 60.
    assert_eq!(quantities(&pool, a).await, (60, 0));
    // B: 100 - 10 orders x (1 + 2 in the kit) = 70.
    assert_eq!(quantities(&pool, b).await, (70, 0));
    assert_eq!(quantities(&pool, k).await, (0, 0));
    assert_ledger_matches(&pool, t.account).await;
}

fn listing(product_id: &str, variant: Option<&str>, sku: Option<&str>) -> Listing {
    Listing {
        id: ListingId {
            product_id: product_id.into(),
            variant_id: variant.map(Into::into),
            inventory_item_id: variant.map(|v| format!("inv-{v}")),
        },
        sku: sku.map(Into::into),
        title: format!("Listing {product_id}"),
        price: Some("9.99".into()),
        quantity: Some(3),
        image_url: None,
        weight: None,
        dimensions: None,
        customs: None,
    }
}

async fn upsert(
    pool: &PgPool,
    account: AccountId,
    ch: &switchyard::store::channels::ChannelRow,
    l: &Listing,
) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    channel_products::upsert_listing(&mut conn, account, ch.id, ch.store_id, l)
        .await
        .expect("listing stored")
}

fn plan_by_listing(plan: &[PlannedStock]) -> HashMap<i64, (i64, Option<i64>)> {
    plan.iter()
        .map(|p| (p.channel_product_id, (p.quantity, p.last_pushed)))
        .collect()
}

#[tokio::test]
async fn the_stock_plan_covers_products_kits_and_the_buffer() {
    let pool = pool().await;
    let t = tenant(&pool).await;
    let key = key(&settings());
    let ch = channel(&pool, &key, t.account).await;
    let a = product(&pool, t.account, ch.store_id, "SKU-A", 7).await;
    let b = product(&pool, t.account, ch.store_id, "SKU-B", 5).await;
    let mut conn = pool.acquire().await.unwrap();
    stock::set_plugin_quantity(&mut conn, b, 2, "r1")
        .await
        .unwrap();
    drop(conn);
    let k = kit(&pool, t.account, ch.store_id, "KIT", &[(a, 2), (b, 1)]).await;
    let oversold = product(&pool, t.account, ch.store_id, "SKU-O", 0).await;
    stock::adjust_api_quantity(&pool, t.account, oversold, -3, "oversell")
        .await
        .unwrap();

    let la = upsert(
        &pool,
        t.account,
        &ch,
        &listing("100", Some("1"), Some("SKU-A")),
    )
    .await;
    let lb = upsert(
        &pool,
        t.account,
        &ch,
        &listing("100", Some("2"), Some("SKU-B")),
    )
    .await;
    let lk = upsert(&pool, t.account, &ch, &listing("200", None, Some("KIT"))).await;
    let lo = upsert(&pool, t.account, &ch, &listing("300", None, Some("SKU-O"))).await;
    let lx = upsert(
        &pool,
        t.account,
        &ch,
        &listing("400", None, Some("SKU-NEW")),
    )
    .await;
    assert_eq!(
        upsert(
            &pool,
            t.account,
            &ch,
            &listing("100", Some("1"), Some("SKU-A"))
        )
        .await,
        la,
        "the same listing again is the same row"
    );

    let plan = channel_products::stock_plan(&pool, ch.id, 0).await.unwrap();
    let got = plan_by_listing(&plan);
    assert_eq!(
        got.len(),
        4,
        "the unmapped listing has nothing to push: {plan:?}"
    );
    assert!(!got.contains_key(&lx));
    assert_eq!(got[&la], (7, None));
    assert_eq!(got[&lb], (7, None), "API 5 + plugin 2");
    assert_eq!(got[&lk], (3, None), "min(7/2, 7/1)");
    assert_eq!(got[&lo], (0, None), "never below zero");
    let pa = plan.iter().find(|p| p.channel_product_id == la).unwrap();
    assert_eq!(pa.listing.inventory_item_id.as_deref(), Some("inv-1"));
    assert!(pa.needs_push());

    let buffered = plan_by_listing(&channel_products::stock_plan(&pool, ch.id, 2).await.unwrap());
    assert_eq!(buffered[&la], (5, None));
    assert_eq!(buffered[&lb], (5, None));
    assert_eq!(buffered[&lk], (1, None), "the buffer is in whole kits");
    assert_eq!(buffered[&lo], (0, None));

    assert!(channel_products::record_pushed(&pool, la, 7).await.unwrap());
    let after = channel_products::stock_plan(&pool, ch.id, 0).await.unwrap();
    let pa = after.iter().find(|p| p.channel_product_id == la).unwrap();
    assert_eq!(pa.last_pushed, Some(7));
    assert!(!pa.needs_push());

    // A sale of A changes A and the kit, and the plan follows.
    stock::adjust_api_quantity(&pool, t.account, a, -2, "sale")
        .await
        .unwrap();
    let got = plan_by_listing(&channel_products::stock_plan(&pool, ch.id, 0).await.unwrap());
    assert_eq!(got[&la], (5, Some(7)));
    assert_eq!(got[&lk], (2, None));

    // Which channels a change must visit: a change of A reaches this channel (A and the kit)
    // and one listing only the kit, not one listing only B; a change of B reaches all three.
    let kit_only = channel(&pool, &key, t.account).await;
    let same_store: i64 = sqlx::query_scalar(
        "INSERT INTO channels (account_id, store_id, kind, name, base_url, credentials_enc) \
         SELECT account_id, $2, kind, 'second', base_url, credentials_enc FROM channels \
         WHERE id = $1 RETURNING id",
    )
    .bind(kit_only.id)
    .bind(ch.store_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    let b_only: i64 = sqlx::query_scalar(
        "INSERT INTO channels (account_id, store_id, kind, name, base_url, credentials_enc) \
         SELECT account_id, store_id, kind, 'third', base_url, credentials_enc FROM channels \
         WHERE id = $1 RETURNING id",
    )
    .bind(same_store)
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    channel_products::upsert_listing(
        &mut conn,
        t.account,
        same_store,
        ch.store_id,
        &listing("9", None, Some("KIT")),
    )
    .await
    .unwrap();
    channel_products::upsert_listing(
        &mut conn,
        t.account,
        b_only,
        ch.store_id,
        &listing("9", None, Some("SKU-B")),
    )
    .await
    .unwrap();
    let mut for_a = vec![ch.id, same_store];
    for_a.sort();
    assert_eq!(
        channel_products::channels_listing_products(&mut conn, &[a])
            .await
            .unwrap(),
        for_a
    );
    let mut for_b = vec![ch.id, same_store, b_only];
    for_b.sort();
    assert_eq!(
        channel_products::channels_listing_products(&mut conn, &[b])
            .await
            .unwrap(),
        for_b
    );
    assert!(
        channel_products::channels_listing_products(&mut conn, &[oversold + 1_000_000])
            .await
            .unwrap()
            .is_empty()
    );
    // A listing in a store that is not the channel's is refused.
    assert!(channel_products::upsert_listing(
        &mut conn,
        t.account,
        kit_only.id,
        ch.store_id,
        &listing("x", None, None)
    )
    .await
    .is_err());
    assert_ne!(k, a);
}

#[tokio::test]
async fn listings_follow_skus_and_missing_products_can_be_added() {
    let pool = pool().await;
    let (t, ch) = tenant_with_channel(&pool).await;
    let lx = upsert(&pool, t.account, &ch, &listing("1", None, Some("SKU-X"))).await;
    let ly = upsert(
        &pool,
        t.account,
        &ch,
        &listing("2", Some("a"), Some("SKU-Y")),
    )
    .await;
    let ly2 = upsert(
        &pool,
        t.account,
        &ch,
        &listing("2", Some("b"), Some("SKU-Y")),
    )
    .await;
    let none = upsert(&pool, t.account, &ch, &listing("3", None, None)).await;
    let mapped = |id: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT product_id FROM channel_products WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let stamp = |id: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
                "SELECT updated_at FROM channel_products WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(mapped(lx).await, None);

    // Creating a product with the SKU maps the waiting listing.
    let x = product(&pool, t.account, ch.store_id, "SKU-X", 1).await;
    assert_eq!(mapped(lx).await, Some(x));
    let before = stamp(lx).await;
    assert_eq!(
        upsert(&pool, t.account, &ch, &listing("1", None, Some("SKU-X"))).await,
        lx
    );
    assert_eq!(
        stamp(lx).await,
        before,
        "an unchanged listing is not touched"
    );

    // "Add to main products": one product per missing SKU, listings mapped.
    let mut conn = pool.acquire().await.unwrap();
    let created = channel_products::add_missing_products(&mut conn, t.account, ch.store_id, ch.id)
        .await
        .unwrap();
    assert_eq!(created.len(), 1, "SKU-Y once, for both its variants");
    let y = created[0];
    assert_eq!(mapped(ly).await, Some(y));
    assert_eq!(mapped(ly2).await, Some(y));
    assert_eq!(mapped(none).await, None, "no SKU, no product");
    let again = channel_products::add_missing_products(&mut conn, t.account, ch.store_id, ch.id)
        .await
        .unwrap();
    assert!(again.is_empty());
    let py = products::get(&pool, t.account, y).await.unwrap().unwrap();
    assert_eq!((py.sku.as_str(), py.api_quantity), ("SKU-Y", 0));

    // The channel renames the SKU to one the store does not have: the listing is unmapped.
    upsert(&pool, t.account, &ch, &listing("1", None, Some("SKU-GONE"))).await;
    assert_eq!(mapped(lx).await, None);

    // Deleting a product unmaps its listings, and keeps them.
    assert_eq!(
        products::delete(&pool, t.account, y).await.unwrap(),
        Deleted::Deleted
    );
    assert_eq!(mapped(ly).await, None);
    let page = channel_products::list_for_channel(&pool, t.account, ch.id, None, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.len(), 4);
    let other = tenant(&pool).await;
    assert!(
        channel_products::list_for_channel(&pool, other.account, ch.id, None, 50)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn kits_hold_their_rules_in_the_store_and_the_schema() {
    let pool = pool().await;
    let t = tenant(&pool).await;
    let key = key(&settings());
    let ch = channel(&pool, &key, t.account).await;
    let elsewhere = channel(&pool, &key, t.account).await;
    let a = product(&pool, t.account, ch.store_id, "A", 4).await;
    let b = product(&pool, t.account, ch.store_id, "B", 4).await;
    let foreign = product(&pool, t.account, elsewhere.store_id, "A", 4).await;
    let k = kit(&pool, t.account, ch.store_id, "K", &[(a, 2)]).await;

    let field_of = |r: Result<products::ProductRow, StockError>| match r {
        Err(StockError::Invalid(e)) => e.field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        field_of(products::set_components(&pool, t.account, k, &[(a, 1), (foreign, 1)]).await),
        "[1].product_id"
    );
    let k2 = product(&pool, t.account, ch.store_id, "K2", 0).await;
    assert_eq!(
        field_of(products::set_components(&pool, t.account, k2, &[(k, 1)]).await),
        "[0].product_id",
        "a kit is not a component"
    );
    assert_eq!(
        field_of(products::set_components(&pool, t.account, a, &[(b, 1)]).await),
        ".",
        "a component does not become a kit"
    );
    assert_eq!(
        field_of(products::set_components(&pool, t.account, k, &[(b, 0)]).await),
        "[0].quantity"
    );
    let unchanged = products::get(&pool, t.account, k).await.unwrap().unwrap();
    assert_eq!(
        unchanged.components.len(),
        1,
        "a refused change leaves the kit as it was"
    );
    assert_eq!(unchanged.available_quantity, 2);

    // The schema refuses the same, whoever writes.
    assert!(
        sqlx::query("UPDATE products SET is_kit = true WHERE id = $1")
            .bind(a)
            .execute(&pool)
            .await
            .is_err()
    );
    assert_eq!(
        products::delete(&pool, t.account, a).await.unwrap(),
        Deleted::InKits(vec![k])
    );
    assert!(sqlx::query("DELETE FROM products WHERE id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .is_err());

    // An empty list makes it a product again, and A may then go.
    let plain = products::set_components(&pool, t.account, k, &[])
        .await
        .unwrap();
    assert!(!plain.is_kit && plain.components.is_empty());
    assert_eq!(
        products::delete(&pool, t.account, a).await.unwrap(),
        Deleted::Deleted
    );
    assert_eq!(
        products::delete(&pool, t.account, a).await.unwrap(),
        Deleted::NotFound
    );
}
