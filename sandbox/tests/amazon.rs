//! The Amazon seller simulator over real HTTP: Login with Amazon tokens and their expiry, Orders v0
//! paging and bounds, order items, usage-plan throttling, shipment confirmation, listings stock,
//! and the answers held to the JSON schemas of Amazon's published models
//! (`tests/fixtures/amazon/`, copied from `amzn/selling-partner-api-models`).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use switchyard_sandbox::amazon::OperationLimit;
use switchyard_sandbox::{
    AmazonSeller, AmazonSellerConfig, SandboxConfig, SandboxHandle, SimStore,
};

use common::{client, start_with};

const UK: &str = "A1F83G8C2ARO7P";

/// A seller whose generator makes paid, unshipped MFN orders and nothing else, with rate limits
/// fast enough not to get in the way unless a test sets its own.
fn seller_config() -> AmazonSellerConfig {
    let mut config = AmazonSellerConfig::new("demo-amazon");
    config.afn_ratio = 0.0;
    config.generator.unpaid_ratio = 0.0;
    config.generator.fulfilled_ratio = 0.0;
    config.generator.update_ratio = 0.0;
    config.generator.cancel_ratio = 0.0;
    config.rate_limits.scale = 10_000.0;
    config
}

async fn start_seller(config: AmazonSellerConfig) -> (SandboxHandle, std::sync::Arc<AmazonSeller>) {
    let sandbox = start_with(SandboxConfig {
        amazon: vec![config],
        ..SandboxConfig::default()
    })
    .await;
    let seller = sandbox.amazon("demo-amazon").expect("configured");
    (sandbox, seller)
}

/// Calls as an SP-API app does: an LWA access token in `x-amz-access-token`.
struct SpApi {
    http: reqwest::Client,
    base: String,
    token: String,
}

async fn exchange(
    http: &reqwest::Client,
    seller: &AmazonSeller,
    refresh: &str,
) -> reqwest::Response {
    http.post(format!("{}/auth/o2/token", seller.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", seller.lwa_client_id()),
            ("client_secret", seller.lwa_client_secret()),
        ])
        .send()
        .await
        .expect("send")
}

impl SpApi {
    async fn login(seller: &AmazonSeller) -> SpApi {
        let http = client();
        let resp = exchange(&http, seller, seller.refresh_token()).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("json");
        SpApi {
            http,
            base: seller.base_url().to_owned(),
            token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("x-amz-access-token", &self.token)
            .send()
            .await
            .expect("send")
    }

    async fn get_json(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("json")
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("x-amz-access-token", &self.token)
            .json(body)
            .send()
            .await
            .expect("send")
    }
}

fn orders_path(query: &str) -> String {
    format!("/orders/v0/orders?MarketplaceIds={UK}&{query}")
}

fn enc(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn tokens_come_from_the_refresh_token_and_expire() {
    let (sandbox, seller) = start_seller(seller_config()).await;
    let http = client();

    let refused = exchange(&http, &seller, "Atzr|not-the-one").await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");

    let resp = exchange(&http, &seller, seller.refresh_token()).await;
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["refresh_token"], seller.refresh_token());
    assert!(body["access_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("Atza|")));

    let anonymous = http
        .get(format!(
            "{}{}",
            seller.base_url(),
            orders_path("CreatedAfter=2020-01-01T00:00:00Z")
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 403);
    assert!(anonymous.headers().contains_key("x-amzn-requestid"));
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(
        body,
        json!({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.", "details": ""}]})
    );

    let api = SpApi::login(&seller).await;
    let path = orders_path("CreatedAfter=2020-01-01T00%3A00%3A00Z");
    assert_eq!(api.get(&path).await.status(), 200);
    seller.expire_access_tokens();
    let expired = api.get(&path).await;
    assert_eq!(expired.status(), 403);
    let body: Value = expired.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "Unauthorized");
    assert_eq!(
        body["errors"][0]["message"],
        "The access token you provided has expired."
    );

    let fresh = SpApi::login(&seller).await;
    assert_eq!(fresh.get(&path).await.status(), 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn get_orders_pages_every_order_once_and_next_token_carries_the_query() {
    let (sandbox, seller) = start_seller(seller_config()).await;
    let created = seller.create_orders(53);
    assert_eq!(created.len(), 53);
    let api = SpApi::login(&seller).await;

    let mut seen = Vec::new();
    let mut path = orders_path("LastUpdatedAfter=2020-01-01T00%3A00%3A00Z&MaxResultsPerPage=5");
    let mut pages = 0;
    loop {
        let body = api.get_json(&path).await;
        let payload = &body["payload"];
        let orders = payload["Orders"].as_array().expect("Orders");
        assert!(orders.len() <= 5);
        assert!(payload["LastUpdatedBefore"].is_string());
        seen.extend(
            orders
                .iter()
                .map(|o| o["AmazonOrderId"].as_str().unwrap_or("").to_owned()),
        );
        pages += 1;
        let Some(token) = payload["NextToken"].as_str() else {
            break;
        };
        // Filters beside a NextToken are ignored, as on Amazon: the page size stays 5.
        path = orders_path(&format!(
            "NextToken={token}&MaxResultsPerPage=100&OrderStatuses=Canceled"
        ));
    }
    assert_eq!(pages, 11);
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (53, 53));
    let expected: BTreeSet<String> = created
        .iter()
        .map(|id| seller.amazon_order_id(*id))
        .collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn last_updated_after_is_inclusive_and_later_changes_fall_after_it() {
    let (sandbox, seller) = start_seller(seller_config()).await;
    seller.create_orders(4);
    let api = SpApi::login(&seller).await;
    let all = api
        .get_json(&orders_path("LastUpdatedAfter=2020-01-01T00%3A00%3A00Z"))
        .await;
    let orders = all["payload"]["Orders"].as_array().expect("Orders").clone();
    let stamp = orders[3]["LastUpdateDate"]
        .as_str()
        .expect("date")
        .to_owned();
    let bound = all["payload"]["LastUpdatedBefore"]
        .as_str()
        .expect("bound")
        .to_owned();

    let at = api
        .get_json(&orders_path(&format!("LastUpdatedAfter={}", enc(&stamp))))
        .await;
    assert_eq!(
        at["payload"]["Orders"].as_array().map(Vec::len),
        Some(4),
        "after (or at)"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let none = api
        .get_json(&orders_path(&format!("LastUpdatedAfter={}", enc(&later))))
        .await;
    assert_eq!(none["payload"]["Orders"], json!([]));
    let pending: Vec<u64> = {
        let mut config = seller_config().generator;
        config.unpaid_ratio = 1.0;
        seller.set_generator_config(config);
        seller.create_orders(1)
    };
    let changed = api
        .get_json(&orders_path(&format!("LastUpdatedAfter={}", enc(&later))))
        .await;
    let ids: Vec<&str> = changed["payload"]["Orders"]
        .as_array()
        .expect("Orders")
        .iter()
        .filter_map(|o| o["AmazonOrderId"].as_str())
        .collect();
    assert_eq!(ids, vec![seller.amazon_order_id(pending[0])]);
    assert_eq!(changed["payload"]["Orders"][0]["OrderStatus"], "Pending");

    let bounded = api
        .get_json(&orders_path(&format!(
            "LastUpdatedAfter=2020-01-01T00%3A00%3A00Z&LastUpdatedBefore={}",
            enc(&bound)
        )))
        .await;
    assert_eq!(
        bounded["payload"]["Orders"].as_array().map(Vec::len),
        Some(4)
    );

    let missing = api
        .get("/orders/v0/orders?CreatedAfter=2020-01-01T00%3A00%3A00Z")
        .await;
    assert_eq!(missing.status(), 400);
    let neither = api.get(&orders_path("MaxResultsPerPage=5")).await;
    assert_eq!(neither.status(), 400);
    let too_big = api
        .get(&orders_path(
            "CreatedAfter=2020-01-01&MaxResultsPerPage=101",
        ))
        .await;
    assert_eq!(too_big.status(), 400);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_and_its_items_read_as_amazon_writes_them() {
    let (sandbox, seller) = start_seller(seller_config()).await;
    let id = seller.create_orders(1)[0];
    let amazon_id = seller.amazon_order_id(id);
    let api = SpApi::login(&seller).await;

    let order = api
        .get_json(&format!("/orders/v0/orders/{amazon_id}"))
        .await;
    let order = &order["payload"];
    assert_eq!(order["AmazonOrderId"], amazon_id);
    assert_eq!(order["OrderStatus"], "Unshipped");
    assert_eq!(order["FulfillmentChannel"], "MFN");
    assert_eq!(order["MarketplaceId"], UK);
    assert_eq!(order["OrderTotal"]["CurrencyCode"], "GBP");
    assert!(order["ShippingAddress"]["PostalCode"].is_string());

    let items = api
        .get_json(&format!("/orders/v0/orders/{amazon_id}/orderItems"))
        .await;
    assert_eq!(items["payload"]["AmazonOrderId"], amazon_id);
    let items = items["payload"]["OrderItems"].as_array().expect("items");
    assert!(!items.is_empty());
    let ordered: u64 = items
        .iter()
        .map(|i| i["QuantityOrdered"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(order["NumberOfItemsUnshipped"].as_u64(), Some(ordered));
    let cents = |m: &Value| {
        let amount = m["Amount"].as_str().unwrap_or("0");
        (amount.parse::<f64>().unwrap_or(0.0) * 100.0).round() as i64
    };
    let sum: i64 = items
        .iter()
        .map(|i| {
            cents(&i["ItemPrice"]) - cents(&i["PromotionDiscount"])
                + cents(&i["ItemTax"])
                + cents(&i["ShippingPrice"])
                + cents(&i["ShippingTax"])
        })
        .sum();
    assert_eq!(
        sum,
        cents(&order["OrderTotal"]),
        "the total is the sum of its items, promotions taken off"
    );

    let unknown = api.get("/orders/v0/orders/202-0000000-0000001").await;
    assert_eq!(unknown.status(), 404);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_promotion_is_told_apart_from_the_items_price() {
    let mut config = seller_config();
    config.generator.max_lines = 1;
    config.generator.max_quantity = 1;
    config.generator.sku_mix.insert("MS-1".into(), 1);
    let (sandbox, seller) = start_seller(config).await;
    let api = SpApi::login(&seller).await;
    let cents = |amount: &Value| {
        let amount = amount.as_str().unwrap_or("0");
        (amount.parse::<f64>().unwrap_or(0.0) * 100.0).round() as i64
    };
    let listing = api
        .get_json(&format!(
            "/listings/2021-08-01/items/{}/MS-1?marketplaceIds={UK}&includedData=offers",
            seller.seller_id()
        ))
        .await;
    let price = cents(&listing["offers"][0]["price"]["amount"]);
    let mut promoted = 0;
    for id in seller.create_orders(40) {
        let items = api
            .get_json(&format!(
                "/orders/v0/orders/{}/orderItems",
                seller.amazon_order_id(id)
            ))
            .await;
        let item = &items["payload"]["OrderItems"][0];
        assert_eq!(
            cents(&item["ItemPrice"]["Amount"]),
            price,
            "the listing's price, whole"
        );
        if cents(&item["PromotionDiscount"]["Amount"]) > 0 {
            promoted += 1;
        }
    }
    assert!(promoted > 0, "some orders had a promotion");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn order_items_page_with_a_next_token_of_their_own() {
    let mut config = seller_config();
    config.order_items_per_page = 1;
    config.generator.max_lines = 3;
    let (sandbox, seller) = start_seller(config).await;
    let ids = seller.create_orders(10);
    let api = SpApi::login(&seller).await;
    let mut paged = 0;
    for id in &ids {
        let amazon_id = seller.amazon_order_id(*id);
        let path = format!("/orders/v0/orders/{amazon_id}/orderItems");
        let mut seen = Vec::new();
        let mut page = api.get_json(&path).await;
        loop {
            let items = page["payload"]["OrderItems"].as_array().expect("items");
            assert_eq!(items.len(), 1);
            seen.extend(
                items
                    .iter()
                    .map(|i| i["OrderItemId"].as_str().unwrap_or("").to_owned()),
            );
            let Some(token) = page["payload"]["NextToken"].as_str() else {
                break;
            };
            page = api.get_json(&format!("{path}?NextToken={token}")).await;
        }
        let order = seller.order_json(*id).expect("order");
        let units: u64 = order["NumberOfItemsUnshipped"].as_u64().unwrap_or(0);
        assert!(seen.len() as u64 <= units);
        assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
        if seen.len() > 1 {
            paged += 1;
            // A token names its order: another order refuses it.
            let token = api.get_json(&path).await["payload"]["NextToken"]
                .as_str()
                .expect("a next page")
                .to_owned();
            let other = ids.iter().find(|o| *o != id).expect("another order");
            let other = seller.amazon_order_id(*other);
            let refused = api
                .get(&format!(
                    "/orders/v0/orders/{other}/orderItems?NextToken={token}"
                ))
                .await;
            assert_eq!(refused.status(), 400);
        }
    }
    assert!(paged > 0, "some orders had more than one item");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn get_orders_is_throttled_by_its_usage_plan_and_the_bucket_refills() {
    let mut config = seller_config();
    config.rate_limits.get_orders = OperationLimit {
        rate: 0.0167,
        burst: 3,
    };
    // 0.0167 a second, 120 times over: one token back every half second.
    config.rate_limits.scale = 120.0;
    let (sandbox, seller) = start_seller(config).await;
    let api = SpApi::login(&seller).await;
    let path = orders_path("CreatedAfter=2020-01-01T00%3A00%3A00Z");
    for _ in 0..3 {
        let resp = api.get(&path).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-amzn-ratelimit-limit"], "2.004");
    }
    let refused = api.get(&path).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-amzn-ratelimit-limit"], "2.004");
    assert!(refused.headers().contains_key("x-amzn-requestid"));
    let body: Value = refused.json().await.expect("json");
    assert_eq!(
        body,
        json!({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.", "details": ""}]})
    );
    // Another operation has its own bucket.
    let listing = api
        .get(&format!(
            "/listings/2021-08-01/items/{}/MS-1?marketplaceIds={UK}",
            seller.seller_id()
        ))
        .await;
    assert_eq!(listing.status(), 200);
    assert_eq!(listing.headers()["x-amzn-ratelimit-limit"], "600.0");

    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(api.get(&path).await.status(), 200);
    assert_eq!(api.get(&path).await.status(), 429);
    assert_eq!(seller.traffic().snapshot().responses_429, 2);
    sandbox.shutdown().await;
}

fn package(reference: &str, lines: &[(&str, u64)]) -> Value {
    json!({
        "marketplaceId": UK,
        "packageDetail": {
            "packageReferenceId": reference,
            "carrierCode": "Royal Mail",
            "trackingNumber": format!("RM{reference}GB"),
            "shipDate": "2024-07-01T10:00:00Z",
            "orderItems": lines
                .iter()
                .map(|(id, q)| json!({"orderItemId": id, "quantity": q}))
                .collect::<Vec<_>>(),
        }
    })
}

#[tokio::test]
async fn confirming_shipment_moves_the_order_and_refuses_shipping_too_much() {
    let mut config = seller_config();
    config.generator.max_quantity = 3;
    config.generator.sku_mix.insert("MS-1".into(), 1);
    config.generator.max_lines = 1;
    let (sandbox, seller) = start_seller(config).await;
    // One line of MS-1; make sure it has at least 2 to ship in two packages.
    let (id, item_id, ordered) = loop {
        let id = seller.create_orders(1)[0];
        let api = SpApi::login(&seller).await;
        let items = api
            .get_json(&format!(
                "/orders/v0/orders/{}/orderItems",
                seller.amazon_order_id(id)
            ))
            .await;
        let item = &items["payload"]["OrderItems"][0];
        let ordered = item["QuantityOrdered"].as_u64().unwrap_or(0);
        if ordered >= 2 {
            break (
                id,
                item["OrderItemId"].as_str().unwrap_or("").to_owned(),
                ordered,
            );
        }
    };
    let amazon_id = seller.amazon_order_id(id);
    let api = SpApi::login(&seller).await;
    let confirm = format!("/orders/v0/orders/{amazon_id}/shipmentConfirmation");
    let before = seller.fulfilments().len();

    let first = api
        .send(
            reqwest::Method::POST,
            &confirm,
            &package("1", &[(&item_id, 1)]),
        )
        .await;
    assert_eq!(first.status(), 204);
    let order = api
        .get_json(&format!("/orders/v0/orders/{amazon_id}"))
        .await;
    assert_eq!(order["payload"]["OrderStatus"], "PartiallyShipped");
    assert_eq!(order["payload"]["NumberOfItemsShipped"], 1);

    let over = api
        .send(
            reqwest::Method::POST,
            &confirm,
            &package("2", &[(&item_id, ordered)]),
        )
        .await;
    assert_eq!(over.status(), 400);
    let body: Value = over.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "InvalidInput");

    let rest = api
        .send(
            reqwest::Method::POST,
            &confirm,
            &package("2", &[(&item_id, ordered - 1)]),
        )
        .await;
    assert_eq!(rest.status(), 204);
    let order = api
        .get_json(&format!("/orders/v0/orders/{amazon_id}"))
        .await;
    assert_eq!(order["payload"]["OrderStatus"], "Shipped");

    let shipments: Vec<_> = seller.fulfilments().into_iter().skip(before).collect();
    assert_eq!(shipments.len(), 2);
    assert_eq!(shipments[0].order_name, amazon_id);
    assert_eq!(shipments[1].lines[0].sku, "MS-1");
    assert_eq!(u64::from(shipments[1].lines[0].quantity), ordered - 1);
    assert_eq!(shipments[1].tracking_number.as_deref(), Some("RM2GB"));

    let again = api
        .send(
            reqwest::Method::POST,
            &confirm,
            &package("3", &[(&item_id, 1)]),
        )
        .await;
    assert_eq!(again.status(), 400, "nothing is left to ship");

    // The same package again is an edit of it: nothing ships twice, the tracking changes.
    let mut edit = package("2", &[(&item_id, ordered - 1)]);
    edit["packageDetail"]["trackingNumber"] = json!("RM2BGB");
    let edited = api.send(reqwest::Method::POST, &confirm, &edit).await;
    assert_eq!(edited.status(), 204);
    let shipments: Vec<_> = seller.fulfilments().into_iter().skip(before).collect();
    assert_eq!(shipments.len(), 2);
    assert_eq!(shipments[1].tracking_number.as_deref(), Some("RM2BGB"));
    let order = api
        .get_json(&format!("/orders/v0/orders/{amazon_id}"))
        .await;
    assert_eq!(
        order["payload"]["NumberOfItemsShipped"].as_u64(),
        Some(ordered)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_confirmation_is_held_to_the_model() {
    let (sandbox, seller) = start_seller(seller_config()).await;
    let id = seller.create_orders(1)[0];
    let amazon_id = seller.amazon_order_id(id);
    let api = SpApi::login(&seller).await;
    let items = api
        .get_json(&format!("/orders/v0/orders/{amazon_id}/orderItems"))
        .await;
    let item_id = items["payload"]["OrderItems"][0]["OrderItemId"]
        .as_str()
        .expect("an item")
        .to_owned();
    let confirm = format!("/orders/v0/orders/{amazon_id}/shipmentConfirmation");
    let refused = |body: Value| {
        let api = &api;
        let confirm = confirm.clone();
        async move {
            let resp = api.send(reqwest::Method::POST, &confirm, &body).await;
            let status = resp.status();
            let body: Value = resp.json().await.expect("json");
            (
                status,
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        }
    };
    let (status, message) = refused(package("pkg-1", &[(&item_id, 1)])).await;
    assert_eq!(
        (status.as_u16(), message.as_str()),
        (400, "packageReferenceId must be a positive number")
    );
    let (status, _) = refused(package("0", &[(&item_id, 1)])).await;
    assert_eq!(status, 400);
    let mut other = package("1", &[(&item_id, 1)]);
    other["packageDetail"]["carrierCode"] = json!("Other");
    let (status, message) = refused(other.clone()).await;
    assert_eq!(
        (status.as_u16(), message.as_str()),
        (400, "carrierName is required when carrierCode is Other")
    );
    let mut misspelt = package("1", &[(&item_id, 1)]);
    misspelt["packageDetail"]["trackingNo"] = json!("RM1GB");
    let (status, message) = refused(misspelt).await;
    assert_eq!(status, 400);
    assert!(message.contains("trackingNo"), "{message}");
    assert!(
        seller.fulfilments().is_empty(),
        "nothing refused was recorded"
    );

    other["packageDetail"]["carrierName"] = json!("Yodel");
    other["packageDetail"]["shippingMethod"] = json!("48");
    let resp = api.send(reqwest::Method::POST, &confirm, &other).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(seller.fulfilments()[0].carrier.as_deref(), Some("Yodel"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn mfn_orders_take_the_sellers_stock_and_fba_orders_do_not() {
    let mut config = seller_config();
    config.generator.sku_mix.insert("HL-1".into(), 1);
    let (sandbox, seller) = start_seller(config).await;
    let start = seller.stock_by_sku()["HL-1"];
    seller.create_orders(3);
    let api = SpApi::login(&seller).await;
    let body = api
        .get_json(&orders_path("CreatedAfter=2020-01-01T00%3A00%3A00Z"))
        .await;
    let ordered: u64 = body["payload"]["Orders"]
        .as_array()
        .expect("Orders")
        .iter()
        .map(|o| o["NumberOfItemsUnshipped"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(seller.stock_by_sku()["HL-1"], start - ordered as i64);

    let sandbox_afn = {
        let mut config = seller_config();
        config.name = "fba-amazon".into();
        config.afn_ratio = 1.0;
        start_with(SandboxConfig {
            amazon: vec![config],
            ..SandboxConfig::default()
        })
        .await
    };
    let fba = sandbox_afn.amazon("fba-amazon").expect("configured");
    let stock = fba.stock_by_sku();
    let ids = fba.create_orders(5);
    assert_eq!(fba.stock_by_sku(), stock);
    let order = fba.order_json(ids[0]).expect("order");
    assert_eq!(order["FulfillmentChannel"], "AFN");
    assert_eq!(order["OrderStatus"], "Shipped");
    assert!(fba
        .register_webhook("ORDER_CHANGE", "http://127.0.0.1:9/")
        .is_err());
    sandbox_afn.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn patching_fulfillment_availability_sets_the_stock() {
    let (sandbox, seller) = start_seller(seller_config()).await;
    let api = SpApi::login(&seller).await;
    let item = |sku: &str| {
        format!(
            "/listings/2021-08-01/items/{}/{sku}?marketplaceIds={UK}",
            seller.seller_id()
        )
    };
    let patch = |quantity: Value| {
        json!({
            "productType": "PRODUCT",
            "patches": [{
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }],
        })
    };
    let resp = api
        .send(reqwest::Method::PATCH, &item("WB-1"), &patch(json!(7)))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["sku"], "WB-1");
    assert_eq!(body["status"], "ACCEPTED");
    assert_eq!(body["issues"], json!([]));
    assert!(body["submissionId"].is_string());
    assert_eq!(seller.stock_by_sku()["WB-1"], 7);

    let read = api
        .get_json(&format!(
            "{}&includedData=summaries,attributes,fulfillmentAvailability",
            item("WB-1")
        ))
        .await;
    assert_eq!(read["fulfillmentAvailability"][0]["quantity"], 7);
    assert_eq!(
        read["attributes"]["fulfillment_availability"][0]["quantity"],
        7
    );
    assert_eq!(read["summaries"][0]["itemName"], "Water Bottle");

    let invalid = api
        .send(reqwest::Method::PATCH, &item("WB-1"), &patch(json!(-2)))
        .await;
    let body: Value = invalid.json().await.expect("json");
    assert_eq!(body["status"], "INVALID");
    assert_eq!(
        seller.stock_by_sku()["WB-1"],
        7,
        "an invalid patch changes nothing"
    );

    let unknown = api
        .send(reqwest::Method::PATCH, &item("NOPE-1"), &patch(json!(1)))
        .await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "NOT_FOUND");

    let mut skus = Vec::new();
    let mut path = format!(
        "/listings/2021-08-01/items/{}?marketplaceIds={UK}&pageSize=4&includedData=summaries,offers",
        seller.seller_id()
    );
    loop {
        let page = api.get_json(&path).await;
        assert_eq!(page["numberOfResults"], 10);
        for listing in page["items"].as_array().expect("items") {
            skus.push(listing["sku"].as_str().unwrap_or("").to_owned());
            assert!(listing["offers"][0]["price"]["amount"].is_string());
        }
        let Some(token) = page["pagination"]["nextToken"].as_str() else {
            break;
        };
        path = format!(
            "/listings/2021-08-01/items/{}?marketplaceIds={UK}&pageSize=4&includedData=summaries,offers&pageToken={token}",
            seller.seller_id()
        );
    }
    assert_eq!(skus.len(), 10);
    assert_eq!(skus[0], "WB-1", "the last updated comes first");
    assert_eq!(skus.iter().collect::<BTreeSet<_>>().len(), 10);

    let by_sku = api
        .get_json(&format!(
            "/listings/2021-08-01/items/{}?marketplaceIds={UK}&pageSize=20&sortBy=sku&sortOrder=ASC",
            seller.seller_id()
        ))
        .await;
    let sorted: Vec<&str> = by_sku["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["sku"].as_str())
        .collect();
    let mut expected = sorted.clone();
    expected.sort_unstable();
    assert_eq!((sorted.len(), &sorted), (10, &expected));
    let unknown = api
        .get(&format!(
            "/listings/2021-08-01/items/{}?marketplaceIds={UK}&sortBy=price",
            seller.seller_id()
        ))
        .await;
    assert_eq!(unknown.status(), 400);
    sandbox.shutdown().await;
}

/// A small JSON Schema (Swagger 2.0 subset) checker: `$ref`, `type`, `required`, `enum`,
/// `properties`, `items`. Stricter than the schema in one way: an object with declared
/// `properties` and no `additionalProperties` may carry no other key, so a misspelt field fails.
fn check(defs: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/definitions/");
        let Some(target) = defs.get(name) else {
            problems.push(format!("{at}: unknown definition {name}"));
            return;
        };
        return check(defs, target, value, at, problems);
    }
    let kind = schema["type"].as_str().unwrap_or("");
    let fits = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !fits {
        problems.push(format!("{at}: expected {kind}, got {value}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or("");
            if !object.contains_key(name) {
                problems.push(format!("{at}: missing required {name}"));
            }
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (key, field) in object {
                match properties.get(key) {
                    Some(sub) => check(defs, sub, field, &format!("{at}.{key}"), problems),
                    None if schema["additionalProperties"] == json!(true) => {}
                    None => problems.push(format!("{at}: {key} is not in the schema")),
                }
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(defs, items, v, &format!("{at}[{i}]"), problems);
        }
    }
}

fn definitions(file: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/amazon/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture reads");
    let doc: Value = serde_json::from_str(&text).expect("fixture parses");
    doc["definitions"].clone()
}

fn assert_fits(defs: &Value, definition: &str, value: &Value) {
    let mut problems = Vec::new();
    check(
        defs,
        &json!({"$ref": format!("#/definitions/{definition}")}),
        value,
        definition,
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "{definition}: {problems:#?}\n{value:#}"
    );
}

#[test]
fn the_checker_catches_what_it_should() {
    let defs = definitions("orders_v0_definitions.json");
    let mut problems = Vec::new();
    let bad = json!({"payload": {"Orders": [{"AmazonOrderId": "1", "OrderStatus": "Lost", "PurchaseDate": "x", "LastUpdateDate": "y", "NumberOfItemsShipped": "2", "Colour": "red"}]}});
    check(
        &defs,
        &json!({"$ref": "#/definitions/GetOrdersResponse"}),
        &bad,
        "r",
        &mut problems,
    );
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

#[tokio::test]
async fn answers_fit_the_schemas_of_amazons_models() {
    let mut config = seller_config();
    config.afn_ratio = 0.3;
    config.generator.unpaid_ratio = 0.3;
    config.order_items_per_page = 1;
    let (sandbox, seller) = start_seller(config).await;
    let ids = seller.create_orders(20);
    let orders_defs = definitions("orders_v0_definitions.json");
    let listings_defs = definitions("listings_items_2021-08-01_definitions.json");
    let api = SpApi::login(&seller).await;

    let list = api
        .get_json(&orders_path(
            "CreatedAfter=2020-01-01T00%3A00%3A00Z&MaxResultsPerPage=15",
        ))
        .await;
    assert!(list["payload"]["NextToken"].is_string());
    assert_fits(&orders_defs, "GetOrdersResponse", &list);
    let statuses: BTreeSet<&str> = list["payload"]["Orders"]
        .as_array()
        .expect("Orders")
        .iter()
        .filter_map(|o| o["OrderStatus"].as_str())
        .collect();
    assert!(
        statuses.len() >= 2,
        "a mix of statuses is checked: {statuses:?}"
    );

    for id in &ids[..5] {
        let amazon_id = seller.amazon_order_id(*id);
        let order = api
            .get_json(&format!("/orders/v0/orders/{amazon_id}"))
            .await;
        assert_fits(&orders_defs, "GetOrderResponse", &order);
        let items = api
            .get_json(&format!("/orders/v0/orders/{amazon_id}/orderItems"))
            .await;
        assert_fits(&orders_defs, "GetOrderItemsResponse", &items);
        if let Some(token) = items["payload"]["NextToken"].as_str() {
            let next = api
                .get_json(&format!(
                    "/orders/v0/orders/{amazon_id}/orderItems?NextToken={token}"
                ))
                .await;
            assert_fits(&orders_defs, "GetOrderItemsResponse", &next);
        }
    }
    let next = api
        .get_json(&orders_path(&format!(
            "NextToken={}",
            list["payload"]["NextToken"].as_str().unwrap_or("")
        )))
        .await;
    assert_fits(&orders_defs, "GetOrdersResponse", &next);

    let unshipped = ids
        .iter()
        .find(|id| {
            seller
                .order_json(**id)
                .is_some_and(|o| o["OrderStatus"] == "Unshipped")
        })
        .expect("an unshipped order");
    let amazon_id = seller.amazon_order_id(*unshipped);
    let items = api
        .get_json(&format!("/orders/v0/orders/{amazon_id}/orderItems"))
        .await;
    let item_id = items["payload"]["OrderItems"][0]["OrderItemId"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let confirmation = package("1", &[(&item_id, 1)]);
    assert_fits(&orders_defs, "ConfirmShipmentRequest", &confirmation);
    let confirmed = api
        .send(
            reqwest::Method::POST,
            &format!("/orders/v0/orders/{amazon_id}/shipmentConfirmation"),
            &confirmation,
        )
        .await;
    assert_eq!(confirmed.status(), 204);
    assert!(confirmed.bytes().await.expect("body").is_empty());

    let shipped = seller.order_json(ids[0]).expect("order");
    let refused = api
        .send(
            reqwest::Method::POST,
            &format!(
                "/orders/v0/orders/{}/shipmentConfirmation",
                seller.amazon_order_id(ids[0])
            ),
            &package("1", &[("00000000000000", 99)]),
        )
        .await;
    assert_eq!(refused.status(), 400, "{shipped}");
    let body: Value = refused.json().await.expect("json");
    assert_fits(&orders_defs, "ConfirmShipmentErrorResponse", &body);

    let item = api
        .get_json(&format!(
            "/listings/2021-08-01/items/{}/RJ-M?marketplaceIds={UK}&includedData=summaries,attributes,issues,offers,fulfillmentAvailability",
            seller.seller_id()
        ))
        .await;
    assert_fits(&listings_defs, "Item", &item);
    let search = api
        .get_json(&format!(
            "/listings/2021-08-01/items/{}?marketplaceIds={UK}&includedData=summaries,offers,fulfillmentAvailability",
            seller.seller_id()
        ))
        .await;
    assert_fits(&listings_defs, "ItemSearchResults", &search);
    let patched = api
        .send(
            reqwest::Method::PATCH,
            &format!("/listings/2021-08-01/items/{}/RJ-M?marketplaceIds={UK}", seller.seller_id()),
            &json!({"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}]}]}),
        )
        .await;
    let patched: Value = patched.json().await.expect("json");
    assert_fits(&listings_defs, "ListingsItemSubmissionResponse", &patched);
    let stock = json!({"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}]}]});
    assert_fits(&listings_defs, "ListingsItemPatchRequest", &stock);
    let accepted = api
        .send(
            reqwest::Method::PATCH,
            &format!(
                "/listings/2021-08-01/items/{}/RJ-M?marketplaceIds={UK}&includedData=issues",
                seller.seller_id()
            ),
            &stock,
        )
        .await;
    let accepted: Value = accepted.json().await.expect("json");
    assert_eq!(accepted["status"], "ACCEPTED");
    assert_fits(&listings_defs, "ListingsItemSubmissionResponse", &accepted);
    let by_sku = api
        .get_json(&format!(
            "/listings/2021-08-01/items/{}?marketplaceIds={UK}&includedData=summaries,offers,fulfillmentAvailability&sortBy=sku&sortOrder=ASC&pageSize=3",
            seller.seller_id()
        ))
        .await;
    assert_fits(&listings_defs, "ItemSearchResults", &by_sku);
    let missing = api
        .get(&format!(
            "/listings/2021-08-01/items/{}/NOPE?marketplaceIds={UK}",
            seller.seller_id()
        ))
        .await;
    let missing: Value = missing.json().await.expect("json");
    assert_fits(&listings_defs, "ErrorList", &missing);

    // Refusals of the token and of the usage plan, in each API's error shape.
    let anonymous = client()
        .get(format!(
            "{}{}",
            seller.base_url(),
            orders_path("CreatedAfter=2020-01-01T00%3A00%3A00Z")
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 403);
    let anonymous: Value = anonymous.json().await.expect("json");
    assert_fits(&orders_defs, "GetOrdersResponse", &anonymous);
    assert_fits(&listings_defs, "ErrorList", &anonymous);
    seller.faults().set(switchyard_sandbox::FaultKnobs {
        burst_429: 1,
        retry_after_secs: 0.0,
        ..switchyard_sandbox::FaultKnobs::default()
    });
    let throttled = api
        .get(&orders_path("CreatedAfter=2020-01-01T00%3A00%3A00Z"))
        .await;
    assert_eq!(throttled.status(), 429);
    let throttled: Value = throttled.json().await.expect("json");
    assert_fits(&orders_defs, "GetOrdersResponse", &throttled);
    sandbox.shutdown().await;
}
