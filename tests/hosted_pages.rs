//! Hosted pages over HTTP, as a customer's browser (without JavaScript) and the platforms use
//! them: the API makes a link; the page connects a WooCommerce store with a pasted key or the
//! store's key granting, and a Shopify shop through the app install, against the simulators;
//! the channel has the presets and the customer's choices only; the link then answers as used.
//! And the refusals: expired, reused, revoked and unknown links, a forged Shopify callback, a
//! POST without its CSRF token, branding that tries to inject markup.

mod app_helpers;
mod hosted_helpers;
mod tenant_helpers;

use hosted_helpers::{channel, import, world, world_with, World};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A browser without JavaScript: it keeps the page's cookie and fills forms.
struct Browser {
    http: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            cookie: None,
        }
    }

    async fn get(&mut self, url: &str) -> (StatusCode, String) {
        let mut req = self.http.get(url);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let res = req.send().await.expect("an answer");
        if let Some(set) = res.headers().get(SET_COOKIE) {
            let pair = set
                .to_str()
                .expect("text")
                .split(';')
                .next()
                .expect("a pair");
            self.cookie = Some(pair.to_owned());
        }
        let status = res.status();
        (status, res.text().await.expect("text"))
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let mut req = self.http.post(url).form(form);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let res = req.send().await.expect("an answer");
        let status = res.status();
        (status, res.text().await.expect("text"))
    }
}

/// The value of the first `name="csrf"` input.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().expect("a value").to_owned()
}

/// The URL a hand-over page refreshes to.
fn refresh(html: &str) -> String {
    let at = html.find("content=\"0;url=").expect("a refresh") + 15;
    html[at..]
        .split('"')
        .next()
        .expect("a url")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn a_pasted_woocommerce_key_connects_with_the_presets_and_the_link_is_then_used() {
    let w = world().await;
    let store = w.sandbox.woocommerce("demo-woo").expect("the store");
    let page = w.hosted_page(json!({})).await;
    assert_eq!(page["status"], "open");
    let path = World::path_of(&page);
    let mut browser = Browser::new();
    let (status, html) = browser.get(&w.app.url(&path)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Connect to Parcel Co") && html.contains("Shopify"));
    let token = csrf(&html);

    // A wrong secret: WooCommerce refuses it, the page says so in plain words and keeps the
    // address, never the secret.
    let keys = format!("{path}/woocommerce");
    let (status, html) = browser
        .post(
            &w.app.url(&keys),
            &[
                ("csrf", &token),
                ("store_url", store.base_url()),
                ("consumer_key", store.consumer_key()),
                ("consumer_secret", "cs_wrong_secret_value"),
                ("setting", "stock_management"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("did not accept these details"), "{html}");
    assert!(html.contains(store.base_url()));
    assert!(!html.contains("cs_wrong_secret_value"));

    // The right key; the customer also tries to switch on the hidden auto_sync_stock and leaves
    // stock management ticked.
    let (status, html) = browser
        .post(
            &w.app.url(&keys),
            &[
                ("csrf", &token),
                ("store_url", store.base_url()),
                ("consumer_key", store.consumer_key()),
                ("consumer_secret", store.consumer_secret()),
                ("setting", "stock_management"),
                ("setting", "auto_sync_stock"),
                ("poll_interval_secs", "30"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Connected") && html.contains("https://parcel.example/onboarded"));

    let done = w.page_status(page["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "completed");
    let ch = channel(&w, done["channel_id"].as_i64().expect("a channel")).await;
    assert_eq!(ch["kind"], "woocommerce");
    assert_eq!(ch["store_id"], w.store_id);
    assert_eq!(ch["settings"]["stock_management"], true);
    assert_eq!(
        ch["settings"]["auto_sync_stock"], false,
        "hidden: the preset"
    );
    assert_eq!(
        ch["settings"]["poll_interval_secs"], 600,
        "fixed: the preset"
    );
    // The customer's own store, imported with their own key.
    switchyard_sandbox::SimStore::create_orders(&*store, 3);
    let orders = import(&w, ch["id"].as_i64().unwrap()).await;
    assert_eq!(orders.len(), 3, "{orders:?}");

    // The link is used now, and the event was written with the change.
    let (status, html) = browser.get(&w.app.url(&path)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("already been used"));
    let (status, _) = browser.post(&w.app.url(&keys), &[("csrf", &token)]).await;
    assert_eq!(status, StatusCode::GONE);
    // No relay runs here, so the event waits in the outbox.
    let events: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM outbox WHERE payload->>'type' = 'hosted_page.completed'",
    )
    .fetch_all(&w.db)
    .await
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["hosted_page_id"], page["id"]);
    assert_eq!(events[0]["data"]["status"], "completed");
    w.stop().await;
}

#[tokio::test]
async fn woocommerce_key_granting_connects_through_the_stores_own_approval() {
    let w = world().await;
    let store = w.sandbox.woocommerce("demo-woo").expect("the store");
    let page = w.hosted_page(json!({"channels": ["woocommerce"]})).await;
    let path = World::path_of(&page);
    let mut browser = Browser::new();
    let (_, html) = browser.get(&w.app.url(&path)).await;
    assert!(
        !html.contains("Connect Shopify"),
        "only WooCommerce offered"
    );
    let (status, html) = browser
        .post(
            &w.app.url(&format!("{path}/woocommerce/authorize")),
            &[
                ("csrf", &csrf(&html)),
                ("store_url", store.base_url()),
                ("setting", "stock_management"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let approve = refresh(&html);
    assert!(approve.starts_with(&format!("{}/wc-auth/v1/authorize?", store.base_url())));
    // The store posts the keys to switchyard, then sends the merchant back.
    let res = browser.http.get(&approve).send().await.expect("the store");
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(back.contains("success=1"), "{back}");
    let (status, html) = browser.get(&back).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Connected"), "{html}");
    let done = w.page_status(page["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "completed");
    let issued = store.issued_keys();
    assert_eq!(issued.len(), 1);
    let ch = channel(&w, done["channel_id"].as_i64().unwrap()).await;
    assert_eq!(ch["kind"], "woocommerce");
    assert_eq!(ch["settings"]["stock_management"], true);
    w.stop().await;
}

#[tokio::test]
async fn shopify_connects_through_the_app_install_and_a_forged_callback_is_refused() {
    let w = world().await;
    let shop = w.sandbox.shopify("demo-shop").expect("the shop");
    let page = w.hosted_page(json!({})).await;
    let path = World::path_of(&page);
    let mut browser = Browser::new();
    let (_, html) = browser.get(&w.app.url(&path)).await;
    let (status, html) = browser
        .post(
            &w.app.url(&format!("{path}/shopify")),
            &[
                ("csrf", &csrf(&html)),
                ("shop", shop.base_url()),
                ("setting", "stock_management"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let install = refresh(&html);
    assert!(install.starts_with(&format!("{}/admin/oauth/authorize?", shop.base_url())));
    let res = browser.http.get(&install).send().await.expect("the shop");
    assert_eq!(res.status(), StatusCode::FOUND);
    let callback = url::Url::parse(res.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(callback.path(), "/hosted-callback/shopify", "{callback}");

    // Forged: the shop changed after Shopify signed it, then an unsigned state of our own.
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "shop" {
                "evil.myshopify.com".into()
            } else {
                v
            };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, html) = browser.get(forged.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("did not come from Shopify"));
    let params = [
        ("code", "abc"),
        ("shop", "demo-shop.myshopify.com"),
        ("state", "made-up-state"),
        ("timestamp", "1764892800"),
    ];
    let hmac = switchyard_sandbox::shopify::oauth::query_hmac(&params, shop.app_secret());
    let made_up = url::Url::parse_with_params(
        &w.app.url("/hosted-callback/shopify"),
        params.iter().copied().chain([("hmac", hmac.as_str())]),
    )
    .unwrap();
    let (status, html) = browser.get(made_up.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("expired or was already used"));

    // The real callback connects the shop; used again, it is refused.
    let (status, html) = browser.get(callback.as_str()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("demo-shop.myshopify.com"));
    let done = w.page_status(page["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "completed");
    let ch = channel(&w, done["channel_id"].as_i64().unwrap()).await;
    assert_eq!(ch["kind"], "shopify");
    assert_eq!(ch["base_url"], shop.base_url());
    assert_eq!(shop.issued_tokens().len(), 1);
    let (status, _) = browser.get(callback.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    w.stop().await;
}

#[tokio::test]
async fn expired_revoked_unknown_and_csrf_less_requests_are_refused() {
    let w = world().await;
    let mut browser = Browser::new();
    let (status, html) = browser.get(&w.app.url("/hosted/not-a-real-token")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not valid"));

    let expiring = w.hosted_page(json!({"expires_in_secs": 60})).await;
    sqlx::query("UPDATE hosted_pages SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(expiring["id"].as_i64().unwrap())
        .execute(&w.db)
        .await
        .unwrap();
    let (status, html) = browser.get(&w.app.url(&World::path_of(&expiring))).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("expired"));
    assert_eq!(
        w.page_status(expiring["id"].as_i64().unwrap()).await["status"],
        "expired"
    );

    let revoked = w.hosted_page(json!({})).await;
    let id = revoked["id"].as_i64().unwrap();
    let res = w
        .app
        .delete(&format!("/v1/hosted-pages/{id}"), &w.t.token)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, html) = browser.get(&w.app.url(&World::path_of(&revoked))).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("withdrawn"));

    // A POST with no cookie, or with the cookie and another page's token, does nothing.
    let open = w.hosted_page(json!({})).await;
    let path = World::path_of(&open);
    let keys = w.app.url(&format!("{path}/woocommerce"));
    let store = w.sandbox.woocommerce("demo-woo").expect("the store");
    let (_, html) = browser.get(&w.app.url(&path)).await;
    let good = csrf(&html);
    let form = [
        ("csrf", good.as_str()),
        ("store_url", store.base_url()),
        ("consumer_key", store.consumer_key()),
        ("consumer_secret", store.consumer_secret()),
    ];
    let (status, _) = Browser::new().post(&keys, &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no cookie");
    let mut other = Browser::new();
    other.get(&w.app.url(&path)).await;
    let (status, _) = other.post(&keys, &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another browser's token");
    assert_eq!(
        w.page_status(open["id"].as_i64().unwrap()).await["status"],
        "open"
    );
    let (status, _) = browser.post(&keys, &form).await;
    assert_eq!(status, StatusCode::OK, "its own token");
    w.stop().await;
}

#[tokio::test]
async fn branding_cannot_inject_markup_or_css_and_unreadable_colours_fall_back() {
    let w = world().await;
    let hostile = "</style><script>alert(1)</script><style>";
    let page = w
        .hosted_page(
            json!({"branding": {"title": hostile, "text_colour": "#fefefe",
            "background_colour": "#ffffff"}}),
        )
        .await;
    assert_eq!(
        page["contrast_fallbacks"].as_array().map(Vec::len),
        Some(1),
        "{page}"
    );
    let browser = Browser::new();
    let res = browser
        .http
        .get(w.app.url(&World::path_of(&page)))
        .send()
        .await
        .unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("script-src"), "no script may run: {csp}");
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;/style&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(html.matches("</style>").count(), 1, "only the page's own");
    assert!(
        html.contains("--fg:#000000"),
        "the unreadable text colour replaced"
    );

    for (branding, field) in [
        (
            json!({"primary_colour": "red;}</style><script>"}),
            "branding.primary_colour",
        ),
        (
            json!({"logo_url": "javascript:alert(1)"}),
            "branding.logo_url",
        ),
        (json!({"font": "Comic Sans\"; } body { x"}), "branding.font"),
    ] {
        let body =
            json!({"store_id": w.store_id, "channels": ["woocommerce"], "branding": branding});
        let res = w.app.post("/v1/hosted-pages", &w.t.token, body).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["field"], field, "{problem}");
    }
    w.stop().await;
}

#[tokio::test]
async fn a_link_or_an_address_asking_too_often_is_answered_429() {
    let w = world_with(|s| {
        s.hosted.per_link_per_minute = 3;
        s.hosted.per_address_per_minute = 5;
    })
    .await;
    let (first, second) = (
        w.hosted_page(json!({})).await,
        w.hosted_page(json!({})).await,
    );
    let mut browser = Browser::new();
    for _ in 0..3 {
        let (status, _) = browser.get(&w.app.url(&World::path_of(&first))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, html) = browser.get(&w.app.url(&World::path_of(&first))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(html.contains("Wait a minute"));
    // Another link from the same address has its own allowance, until the address's runs out.
    let (status, _) = browser.get(&w.app.url(&World::path_of(&second))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = browser.get(&w.app.url(&World::path_of(&second))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the address's fifth");
    w.stop().await;
}

#[tokio::test]
async fn xero_and_sage_connect_through_their_own_sign_in_and_come_back_to_the_page() {
    let w = world().await;
    for (kind, name) in [("xero", "Xero"), ("sage", "Sage")] {
        let page = w
            .hosted_page(json!({"channels": [], "accounting": [kind]}))
            .await;
        let path = World::path_of(&page);
        let mut browser = Browser::new();
        let (_, html) = browser.get(&w.app.url(&path)).await;
        assert!(html.contains(&format!("Connect {name}")), "{html}");
        assert!(!html.contains("Connect Shopify"), "only {name} offered");
        let (status, html) = browser
            .post(
                &w.app.url(&format!("{path}/accounting/{kind}")),
                &[("csrf", &csrf(&html))],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        // The platform's sign-in consents at once and sends the customer to the accounting
        // connections' callback, which completes the page in its branding.
        let res = browser
            .http
            .get(refresh(&html))
            .send()
            .await
            .expect("the platform");
        assert_eq!(res.status(), StatusCode::FOUND);
        let back = res.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(
            back.contains("/v1/accounting-connections/callback"),
            "{back}"
        );
        let (status, html) = browser.get(&back).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(
            html.contains("Connected") && html.contains("Connect to Parcel Co"),
            "{html}"
        );
        let done = w.page_status(page["id"].as_i64().unwrap()).await;
        assert_eq!(done["status"], "completed", "{done}");
        let id = done["accounting_connection_id"]
            .as_i64()
            .expect("a connection");
        let connection: Value = w
            .app
            .get(&format!("/v1/accounting-connections/{id}"), &w.t.token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(connection["status"], "connected", "{connection}");
        assert_eq!(connection["store_id"], w.store_id);
        assert_eq!(connection["kind"], kind);
        let (status, _) = browser.get(&w.app.url(&path)).await;
        assert_eq!(status, StatusCode::GONE, "used");
    }
    w.stop().await;
}
