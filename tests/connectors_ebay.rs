//! Contract tests of the eBay connector against the in-process sandbox's eBay seller: the
//! refresh token grant, getOrders paging and its inclusive bound, shipments, stock in bulk,
//! listings with their offers, the call limit and eBay's errors.

mod connectors_helpers;

use std::time::{Duration, Instant};

use connectors_helpers::{
    assert_listings_match_stock, ebay, requests_on, status_of, walk_through_token_expiry,
};
use rust_decimal::Decimal;
use switchyard::connectors::{
    list_all_orders_since, ConnectorError, SalesChannel, ThrottleSettings,
};
use switchyard::domain::{
    FulfilmentLine, FulfilmentRequest, ListingId, OrderCursor, OrderStatus, Secret,
};
use switchyard::queue::JobError;
use switchyard_sandbox::config::{ProductConfig, VariantConfig};
use switchyard_sandbox::{EbayStore, FaultKnobs};

const ORDERS_ROUTE: &str = "GET /sell/fulfillment/v1/order";
const TOKEN_ROUTE: &str = "POST /identity/v1/oauth2/token";
const STOCK_ROUTE: &str = "POST /sell/inventory/v1/bulk_update_price_quantity";

fn decimal(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|_| panic!("{text:?} is a decimal"))
}

/// The eBay order id of the simulator's order `id`.
fn ebay_id(id: u64) -> String {
    EbayStore::order_id(id)
}

#[tokio::test]
async fn pages_through_650_orders_200_a_page() {
    let rig = ebay(|_| {}).await;
    rig.store.create_orders(650);
    let orders = list_all_orders_since(&rig.connector(), None, 10)
        .await
        .expect("listing succeeds");
    assert_eq!(orders.len(), 650);
    assert_eq!(
        requests_on(rig.store.as_ref(), ORDERS_ROUTE),
        4,
        "200 a page"
    );
    assert!(orders
        .iter()
        .all(|o| o.channel_order_id.split('-').count() == 3));
    assert_eq!(
        requests_on(rig.store.as_ref(), TOKEN_ROUTE),
        1,
        "one token for the whole walk"
    );
}

/// The seller's call limit (10 a second across its APIs) is never met when each API's throttle
/// paces its calls, even with calls to both APIs at once; the pacing is what took the time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sustained_run_stays_within_the_call_limit() {
    let mut rig = ebay(|s| s.requests_per_second = 10).await;
    let paced = ThrottleSettings {
        leak_per_second: 3.0,
        assumed_capacity: 1,
        max_wait: Duration::from_secs(30),
        ..ThrottleSettings::default()
    };
    rig.config.fulfillment_throttle = paced.clone();
    rig.config.inventory_throttle = paced;
    rig.store.create_orders(3);
    let connector = rig.connector();
    rig.store.traffic().reset();

    let started = Instant::now();
    let orders = async {
        for _ in 0..12 {
            connector
                .list_orders_since(&OrderCursor::Since(None))
                .await
                .expect("every orders page succeeds");
        }
    };
    let (listings, ()) = tokio::join!(connector.list_products(), orders);
    assert_eq!(listings.expect("listings").len(), 10);

    let traffic = rig.store.traffic().snapshot();
    assert_eq!(traffic.responses_429, 0, "{traffic:?}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let calls = &traffic.calls_per_day[&today];
    assert_eq!(calls["sell.fulfillment"], 12);
    assert_eq!(calls["sell.inventory"], 11, "one items page and ten offers");
    assert!(
        started.elapsed() >= Duration::from_millis(3500),
        "12 orders pages at 3 a second take over 3.6 s; took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn server_errors_are_transient_in_ebays_words_and_a_retry_succeeds() {
    let rig = ebay(|_| {}).await;
    rig.store.faults().set(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let err = rig
        .connector()
        .list_orders_since(&OrderCursor::Since(None))
        .await
        .expect_err("the seller's APIs are failing");
    assert!(
        matches!(&err, ConnectorError::Transient { message, .. } if message == "System error [30500]"),
        "{err:?}"
    );
}

#[tokio::test]
async fn wrong_credentials_are_permanent_auth_errors_in_ebays_words() {
    let rig = ebay(|_| {}).await;
    rig.connector()
        .check_credentials()
        .await
        .expect("the sandbox's credentials are accepted");

    let mut wrong_token = rig.config.clone();
    wrong_token.refresh_token = Secret::new("v^1.1#i^1#r^1#not-granted");
    let err = switchyard::connectors::EbayConnector::new(wrong_token)
        .expect("connector builds")
        .check_credentials()
        .await
        .expect_err("an unknown refresh token is refused");
    assert!(
        matches!(&err, ConnectorError::Auth { status: 400, message } if message.starts_with("invalid_grant:")),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains("not-granted"));
    assert!(matches!(JobError::from(err), JobError::Permanent(_)));

    let mut wrong_secret = rig.config.clone();
    wrong_secret.client_secret = Secret::new("PRD-wrong");
    let err = switchyard::connectors::EbayConnector::new(wrong_secret)
        .expect("connector builds")
        .list_products()
        .await
        .expect_err("a wrong Cert ID is refused");
    assert!(
        matches!(&err, ConnectorError::Auth { status: 401, message } if message.contains("invalid_client")),
        "{err:?}"
    );
    assert_eq!(
        requests_on(rig.store.as_ref(), "GET /sell/inventory/v1/inventory_item"),
        0,
        "nothing is called without a token"
    );
}

/// Tokens live three seconds here and pages go one a second. The first page's token is made to
/// expire at once, which eBay answers with a 401: a new token is bought and the page sent again.
/// That token would die while the fourth page waits its turn, so it is replaced before, and eBay
/// refuses nothing more.
#[tokio::test]
async fn an_import_outlives_its_access_tokens() {
    let mut rig = ebay(|s| s.access_token_lifetime_secs = 3).await;
    rig.config.fulfillment_throttle = ThrottleSettings {
        leak_per_second: 1.0,
        assumed_capacity: 1,
        ..ThrottleSettings::default()
    };
    let seller = rig.seller();
    let store = rig.store.clone();
    let expire = |page: usize| {
        if page == 1 {
            seller.expire_tokens();
        }
    };
    walk_through_token_expiry(store.as_ref(), &rig.connector(), 650, &expire).await;
    let traffic = rig.store.traffic().snapshot();
    assert_eq!(traffic.by_status.get(&401), Some(&1), "{traffic:?}");
    assert_eq!(
        requests_on(rig.store.as_ref(), ORDERS_ROUTE),
        5,
        "four pages, one sent twice"
    );
    assert_eq!(
        requests_on(rig.store.as_ref(), TOKEN_ROUTE),
        3,
        "the first token, one after the 401, one bought before the last ran out"
    );
}

/// `n` single-SKU products with 5 in stock each.
fn catalogue(n: usize) -> Vec<ProductConfig> {
    (0..n)
        .map(|i| ProductConfig {
            title: format!("Tent peg set {i}"),
            option_name: None,
            variants: vec![VariantConfig {
                sku: format!("PEG-{i:02}"),
                option: None,
                price: "4.99".into(),
                stock: 5,
            }],
            details: Default::default(),
        })
        .collect()
}

#[tokio::test]
async fn listings_carry_their_offers_price_and_id_and_what_buyers_can_buy() {
    let rig = ebay(|s| s.catalog = catalogue(130)).await;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    assert_listings_match_stock(&listings, rig.store.as_ref());
    assert_eq!(
        requests_on(rig.store.as_ref(), "GET /sell/inventory/v1/inventory_item"),
        2,
        "100 a page, following eBay's next link"
    );
    let peg = listings
        .iter()
        .find(|l| l.sku.as_deref() == Some("PEG-07"))
        .expect("listed");
    assert_eq!(peg.id.product_id, "PEG-07");
    assert!(peg.id.variant_id.is_some(), "the offer id");
    assert_eq!(peg.price.as_deref(), Some("4.99"));
    assert_eq!(peg.title, "Tent peg set 7");

    let rig = ebay(|_| {}).await;
    let listings = rig.connector().list_products().await.expect("listings");
    let jacket = listings
        .iter()
        .find(|l| l.sku.as_deref() == Some("RJ-L"))
        .expect("listed");
    assert_eq!(jacket.title, "Rain Jacket - L");
    assert!(
        jacket.weight.as_ref().is_some_and(|w| w.unit == "g"),
        "{jacket:?}"
    );
    assert!(
        jacket.dimensions.as_ref().is_some_and(|d| d.unit == "cm"),
        "{jacket:?}"
    );
}

#[tokio::test]
async fn stock_goes_25_skus_a_call_with_each_skus_own_outcome() {
    let rig = ebay(|s| s.catalog = catalogue(60)).await;
    let connector = rig.connector();
    let listings = connector.list_products().await.expect("listings");
    let mut levels: Vec<(ListingId, i64)> = listings
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.clone(), 20 + i as i64))
        .collect();
    // A SKU eBay does not have: refused on its own, the rest apply.
    levels.push((
        ListingId {
            product_id: "GONE-1".into(),
            variant_id: None,
            inventory_item_id: None,
        },
        3,
    ));
    let outcomes = connector.set_stocks(&levels).await;
    assert_eq!(outcomes.len(), 61);
    assert!(outcomes[..60].iter().all(Result::is_ok), "{outcomes:?}");
    assert!(
        matches!(&outcomes[60], Err(ConnectorError::Rejected { status: 404, message }) if message.contains("[25702]")),
        "{:?}",
        outcomes[60]
    );
    assert_eq!(
        requests_on(rig.store.as_ref(), STOCK_ROUTE),
        3,
        "61 levels in ceil(61 / 25) calls"
    );
    // Every level is a rise above the 5 each offer started with: it reached the offers too.
    let stock = rig.store.stock_by_sku();
    for (listing, (_, quantity)) in listings.iter().zip(&levels) {
        let sku = listing.sku.as_deref().expect("a SKU");
        assert_eq!(stock.get(sku), Some(quantity), "{sku}");
    }

    connector
        .set_stock(&listings[0].id, 2)
        .await
        .expect("one level");
    assert_eq!(rig.store.stock_by_sku().get("PEG-00"), Some(&2));
    assert_eq!(requests_on(rig.store.as_ref(), STOCK_ROUTE), 4);

    rig.faults(FaultKnobs {
        error_5xx_ratio: 1.0,
        ..FaultKnobs::default()
    });
    let outcomes = connector.set_stocks(&levels).await;
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Err(ConnectorError::Transient {
                status: Some(500),
                ..
            })
        )),
        "{outcomes:?}"
    );
    assert_eq!(
        requests_on(rig.store.as_ref(), STOCK_ROUTE),
        5,
        "a failed call stops the rest, which answer its error unsent"
    );
}

/// A paid, unshipped order of the seller with at least `units` units, from `orders`.
fn open_order(
    orders: &[switchyard::domain::ChannelOrder],
    units: u32,
) -> &switchyard::domain::ChannelOrder {
    orders
        .iter()
        .find(|o| {
            o.status == OrderStatus::Unshipped
                && o.lines.iter().map(|l| l.quantity).sum::<u32>() >= units
        })
        .expect("an open order")
}

#[tokio::test]
async fn fulfilments_are_recorded_once_and_a_lost_answer_is_adopted() {
    let rig = ebay(|s| {
        s.generator.unpaid_ratio = 0.0;
        s.generator.fulfilled_ratio = 0.0;
    })
    .await;
    rig.store.create_orders(30);
    let connector = rig.connector();
    let orders = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    let order = open_order(&orders, 2);
    let first = &order.lines[0];

    // One unit, with a tracking number printed with spaces and a hyphen, which eBay refuses.
    let partial = FulfilmentRequest {
        channel_order_id: order.channel_order_id.clone(),
        lines: vec![FulfilmentLine {
            channel_line_id: first.channel_line_id.clone(),
            quantity: 1,
        }],
        carrier: Some("Royal Mail".into()),
        tracking_number: Some("RM 1234-5678 5GB".into()),
        tracking_url: None,
    };
    assert_eq!(connector.find_fulfilment(&partial).await, Ok(None));
    rig.store.lose_fulfilment_answers(1);
    let err = connector
        .create_fulfilment(&partial)
        .await
        .expect_err("the answer is lost");
    assert!(
        matches!(
            err,
            ConnectorError::Transient {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    let adopted = connector
        .find_fulfilment(&partial)
        .await
        .expect("looked up")
        .expect("the shipment eBay recorded is found");
    assert_eq!(adopted.channel_fulfilment_id, "RM123456785GB");
    let again = connector.create_fulfilment(&partial).await;
    assert!(
        matches!(&again, Err(ConnectorError::Rejected { status: 400, message }) if message.contains("[34500]")),
        "sent blind, eBay would refuse it rather than ship twice: {again:?}"
    );
    let held = rig.store.fulfilments();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].carrier.as_deref(), Some("Royal Mail"));
    assert_eq!(held[0].lines[0].quantity, 1);

    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &order.channel_order_id),
        Some(OrderStatus::PartiallyShipped)
    );

    // The rest of the order: no lines named ships whatever is left, and only that.
    let rest = FulfilmentRequest {
        lines: vec![],
        tracking_number: Some("15501234567890".into()),
        carrier: Some("DPD".into()),
        ..partial.clone()
    };
    let receipt = connector
        .create_fulfilment(&rest)
        .await
        .expect("the rest ships");
    assert_eq!(receipt.channel_fulfilment_id, "15501234567890");
    assert_eq!(connector.find_fulfilment(&rest).await, Ok(Some(receipt)));
    let shipped: u32 = rig
        .store
        .fulfilments()
        .iter()
        .flat_map(|f| f.lines.iter().map(|l| l.quantity))
        .sum();
    assert_eq!(shipped, order.lines.iter().map(|l| l.quantity).sum::<u32>());
    let listed = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&listed, &order.channel_order_id),
        Some(OrderStatus::Shipped)
    );
    let err = connector
        .create_fulfilment(&rest)
        .await
        .expect_err("nothing is left");
    assert!(
        matches!(err, ConnectorError::Rejected { status: 422, .. }),
        "{err:?}"
    );

    // Marked shipped without tracking: eBay takes that, and names the shipment itself.
    let other = orders
        .iter()
        .find(|o| {
            o.status == OrderStatus::Unshipped && o.channel_order_id != order.channel_order_id
        })
        .expect("another open order");
    let untracked = FulfilmentRequest {
        channel_order_id: other.channel_order_id.clone(),
        lines: vec![],
        carrier: Some("Collected in person".into()),
        tracking_number: None,
        tracking_url: None,
    };
    let receipt = connector
        .create_fulfilment(&untracked)
        .await
        .expect("shipped");
    assert!(!receipt.channel_fulfilment_id.is_empty());
    assert_eq!(
        connector.find_fulfilment(&untracked).await,
        Ok(None),
        "with no lines named and no number, nothing identifies a shipment"
    );

    let err = connector
        .create_fulfilment(&FulfilmentRequest {
            channel_order_id: "99-99999-99999".into(),
            ..partial
        })
        .await
        .expect_err("no such order");
    assert!(
        matches!(&err, ConnectorError::Rejected { status: 404, message } if message.contains("[32100]")),
        "{err:?}"
    );
}

/// Statuses from eBay's fulfillment, payment and cancel states, and money that adds up: each
/// order's total is eBay's, and subtotal - discount + shipping + tax makes it.
#[tokio::test]
async fn statuses_and_money_map_as_ebay_states_them() {
    let rig = ebay(|s| {
        s.generator.unpaid_ratio = 0.3;
        s.generator.fulfilled_ratio = 0.2;
    })
    .await;
    let ids = rig.store.create_orders(80);
    let connector = rig.connector();
    let before = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    let find = |status: OrderStatus| {
        ids.iter()
            .copied()
            .find(|id| status_of(&before, &ebay_id(*id)) == Some(status))
            .expect("an order in that status")
    };
    let (to_refund, to_cancel) = (find(OrderStatus::Shipped), find(OrderStatus::Unshipped));
    assert!(rig.seller().refund_order(to_refund));
    assert!(rig.store.cancel_order(to_cancel));
    let orders = list_all_orders_since(&connector, None, 10)
        .await
        .expect("orders");
    assert_eq!(
        status_of(&orders, &ebay_id(to_refund)),
        Some(OrderStatus::Refunded)
    );
    assert_eq!(
        status_of(&orders, &ebay_id(to_cancel)),
        Some(OrderStatus::Cancelled)
    );

    for order in &orders {
        let id = ids
            .iter()
            .copied()
            .find(|id| ebay_id(*id) == order.channel_order_id)
            .expect("one of ours");
        let raw = rig.store.order_json(id).expect("the store has it");
        let expected = match (
            raw["cancelStatus"]["cancelState"].as_str(),
            raw["orderPaymentStatus"].as_str(),
            raw["orderFulfillmentStatus"].as_str(),
        ) {
            (Some("CANCELED"), _, _) => OrderStatus::Cancelled,
            (_, Some("FULLY_REFUNDED"), _) => OrderStatus::Refunded,
            (_, Some("PENDING"), _) => OrderStatus::Unpaid,
            (_, _, Some("FULFILLED")) => OrderStatus::Shipped,
            _ => OrderStatus::Unshipped,
        };
        assert_eq!(order.status, expected, "{}", order.channel_order_id);
        assert_eq!(
            order.paid_at.is_some(),
            raw["orderPaymentStatus"] != "PENDING",
            "{}",
            order.channel_order_id
        );

        let t = &order.totals;
        assert_eq!(
            decimal(&t.total),
            decimal(
                raw["pricingSummary"]["total"]["value"]
                    .as_str()
                    .expect("a total")
            )
        );
        assert_eq!(
            decimal(&t.subtotal) - decimal(&t.discount) + decimal(&t.shipping) + decimal(&t.tax),
            decimal(&t.total),
            "{t:?}"
        );
        assert!(decimal(&t.discount) >= Decimal::ZERO, "{t:?}");
        assert_eq!(order.currency, "GBP");
        for (line, raw_line) in order
            .lines
            .iter()
            .zip(raw["lineItems"].as_array().expect("lines"))
        {
            assert_eq!(
                decimal(&line.unit_price) * Decimal::from(line.quantity),
                decimal(raw_line["lineItemCost"]["value"].as_str().expect("a cost"))
            );
            assert_eq!(line.sku.as_deref(), raw_line["sku"].as_str());
        }
        let ship_to = &raw["fulfillmentStartInstructions"][0]["shippingStep"]["shipTo"];
        let address = order.shipping_address.as_ref().expect("shipped somewhere");
        assert_eq!(
            address.name,
            ship_to["fullName"].as_str().unwrap_or_default()
        );
        assert_eq!(
            Some(address.country_code.as_str()),
            ship_to["contactAddress"]["countryCode"].as_str()
        );
        assert_eq!(order.customer.email.as_deref(), ship_to["email"].as_str());
    }
    let discounted = orders
        .iter()
        .filter(|o| decimal(&o.totals.discount) > Decimal::ZERO)
        .count();
    let taxed = orders
        .iter()
        .filter(|o| decimal(&o.totals.tax) > Decimal::ZERO)
        .count();
    assert!(
        discounted > 0 && taxed > 0,
        "discounted {discounted}, taxed {taxed}"
    );
}

#[tokio::test]
async fn no_webhook_is_ebays_and_none_is_subscribed() {
    let rig = ebay(|_| {}).await;
    let connector = rig.connector();
    assert_eq!(
        connector
            .subscribe_order_webhooks("https://hub.example/inbound/1/")
            .await,
        Ok(vec![])
    );
    let headers = axum::http::HeaderMap::new();
    assert!(!connector.verify_webhook(&headers, b"{}"));
    assert_eq!(rig.store.traffic().snapshot().requests_total, 0);
}
