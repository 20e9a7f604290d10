//! The hosted page's HTML: one shell in the provider's branding, and the forms of each platform.
//!
//! Nothing the provider or the customer wrote reaches the page unescaped: colours are parsed
//! `#rrggbb` values, the font one of a fixed list of stacks, the title and every value escaped.
//! The only stylesheet is one `<style>` element carrying the response's CSP nonce; there are no
//! scripts and no inline style attributes.

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use crate::api::dashboard::{escape, html_response};
use crate::domain::accounting::AccountingKind;
use crate::domain::hosted::{Branding, Inputs, SWITCHES};
use crate::domain::ChannelKind;

/// The page's text before the provider's title.
pub struct Shell<'a> {
    pub branding: &'a Branding,
    pub frame_ancestors: &'a [String],
    /// A `Set-Cookie` to send with it.
    pub cookie: Option<String>,
    /// Where to send the browser on at once (an escaped URL), for pages that hand over to a
    /// platform.
    pub refresh: Option<String>,
}

/// CSP `frame-ancestors` sources from the settings: origins only, anything else dropped.
fn frame_sources(configured: &[String]) -> String {
    let origins: Vec<&str> = configured
        .iter()
        .map(|o| o.trim())
        .filter(|o| {
            url::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "https" | "http") && u.path() == "/" && u.query().is_none()
            }) && o
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
        })
        .collect();
    if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    }
}

fn stylesheet(branding: &Branding) -> String {
    let p = branding.palette();
    format!(
        ":root{{--bg:{bg};--fg:{fg};--primary:{primary};--on-primary:{on};--link:{link}}}\
         *{{box-sizing:border-box}}\
         body{{margin:0;background:var(--bg);color:var(--fg);font-family:{font};line-height:1.5}}\
         main{{max-width:40rem;margin:0 auto;padding:1.5rem 1rem 3rem}}\
         img.logo{{max-height:3.5rem;max-width:100%}}h1{{font-size:1.6rem;margin:.5rem 0 1rem}}\
         h2{{font-size:1.25rem;margin:0 0 .5rem}}\
         section{{border:1px solid currentColor;border-radius:.5rem;padding:1rem;margin:1rem 0}}\
         label{{display:block;font-weight:600;margin:.75rem 0 .25rem}}\
         input[type=text],input[type=url],input[type=password]{{width:100%;font:inherit;\
         padding:.6rem;border:1px solid currentColor;border-radius:.3rem;background:#fff;color:#111}}\
         fieldset{{border:0;padding:0;margin:1rem 0 0}}legend{{font-weight:600}}\
         .switch{{display:flex;gap:.5rem;align-items:flex-start;font-weight:400;margin:.4rem 0}}\
         .switch input{{width:1.25rem;height:1.25rem;margin-top:.15rem}}\
         button{{font:inherit;font-weight:600;margin-top:1rem;padding:.7rem 1.2rem;border:0;\
         border-radius:.3rem;background:var(--primary);color:var(--on-primary);cursor:pointer;\
         min-height:44px}}\
         a{{color:var(--link)}}\
         :focus-visible{{outline:3px solid var(--fg);outline-offset:2px}}\
         .error{{border:2px solid currentColor;border-radius:.3rem;padding:.75rem;font-weight:600}}\
         .hint{{font-size:.9rem;margin:.25rem 0}}details{{margin-top:1rem}}\
         summary{{cursor:pointer;color:var(--link);text-decoration:underline}}\
         ul.fixed{{padding-left:1.2rem}}",
        bg = p.background.hex(),
        fg = p.text.hex(),
        primary = p.primary.hex(),
        on = p.on_primary.hex(),
        link = p.link.hex(),
        font = branding.font.stack(),
    )
}

impl Shell<'_> {
    /// The page: `body` inside the provider's branding, answered with `status`.
    pub fn respond(&self, status: StatusCode, body: &str) -> Response {
        let nonce = crate::crypto::random_token(18);
        let logo = self
            .branding
            .logo_url
            .as_deref()
            .map(|src| format!("<img class=\"logo\" src=\"{}\" alt=\"\">", escape(src)))
            .unwrap_or_default();
        let title = escape(self.branding.title.trim());
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"referrer\" content=\"no-referrer\">{refresh}\
             <title>{title}</title><style nonce=\"{nonce}\">{style}</style></head>\
             <body><main>{logo}<h1>{title}</h1>{body}</main></body></html>",
            style = stylesheet(self.branding),
            refresh = self
                .refresh
                .as_deref()
                .map(|to| format!("<meta http-equiv=\"refresh\" content=\"0;url={to}\">"))
                .unwrap_or_default(),
        );
        let csp = format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; img-src https:; form-action 'self'; \
             frame-ancestors {}; base-uri 'none'",
            frame_sources(self.frame_ancestors)
        );
        // The nonce is URL-safe base64 and the sources are checked origins: always a header.
        let csp = HeaderValue::from_str(&csp)
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        let mut res = html_response(status, html, csp);
        if let Some(cookie) = self
            .cookie
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            res.headers_mut().insert(SET_COOKIE, cookie);
        }
        res
    }
}

/// What a form was filled with, kept when it comes back with an error (never a secret).
#[derive(Debug, Default, Clone)]
pub struct Kept {
    pub shop: String,
    pub store_url: String,
    /// The switches left on; `None` shows the presets.
    pub chosen: Option<Vec<String>>,
}

/// An error the page leads with, for the form it is about.
pub struct Problem<'a> {
    pub form: &'a str,
    pub message: &'a str,
}

fn alert(problem: Option<&Problem<'_>>, form: &str) -> String {
    match problem {
        Some(p) if p.form == form => format!(
            "<p class=\"error\" role=\"alert\" id=\"{form}-error\">{}</p>",
            escape(p.message)
        ),
        _ => String::new(),
    }
}

/// The settings the customer sees: a checkbox per editable switch, and a list of what the
/// provider fixed. Ids are prefixed with the form's name, so each form's are its own.
fn settings_fieldset(inputs: &Inputs, form: &str, chosen: Option<&[String]>) -> String {
    let mut switches = String::new();
    let mut fixed = String::new();
    for (name, input) in &inputs.0 {
        if !input.visible {
            continue;
        }
        let label = SWITCHES
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| name.replace('_', " "), |(_, l)| (*l).to_owned());
        if input.editable {
            let on = match chosen {
                Some(chosen) => chosen.iter().any(|c| c == name),
                None => input.preset == serde_json::Value::Bool(true),
            };
            switches.push_str(&format!(
                "<label class=\"switch\" for=\"{form}-{name}\"><input type=\"checkbox\" \
                 id=\"{form}-{name}\" name=\"setting\" value=\"{name}\"{checked}>{label}</label>",
                name = escape(name),
                checked = if on { " checked" } else { "" },
                label = escape(&label),
            ));
        } else {
            let (label, value) = fixed_setting(name, &label, &input.preset);
            fixed.push_str(&format!("<li>{}: {}</li>", escape(&label), escape(&value)));
        }
    }
    let mut out = String::new();
    if !switches.is_empty() {
        out.push_str(&format!(
            "<fieldset><legend>Your settings</legend>{switches}</fieldset>"
        ));
    }
    if !fixed.is_empty() {
        out.push_str(&format!(
            "<p class=\"hint\">Set for you:</p><ul class=\"fixed\">{fixed}</ul>"
        ));
    }
    out
}

/// A setting the customer sees but cannot change, in words: its label and its value.
fn fixed_setting(name: &str, label: &str, preset: &serde_json::Value) -> (String, String) {
    use serde_json::Value;
    let list = |v: &Value, key: &str| {
        let mode = if v["mode"] == "deny" {
            "all but"
        } else {
            "only"
        };
        let items: Vec<&str> = v[key]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        format!("{mode} {}", items.join(", "))
    };
    match (name, preset) {
        ("poll_interval_secs", Value::Number(n)) => {
            let secs = n.as_u64().unwrap_or(0);
            let every = if secs % 60 == 0 {
                format!("{} minutes", secs / 60)
            } else {
                format!("{secs} seconds")
            };
            ("New orders are checked for every".to_owned(), every)
        }
        ("stock_buffer", v) => (
            "Units held back from each stock level".to_owned(),
            v.to_string(),
        ),
        ("country_filter" | "sku_filter", Value::Null) => {
            (label.to_owned(), "every order".to_owned())
        }
        ("country_filter", v) => (
            "Orders taken for countries".to_owned(),
            list(v, "countries"),
        ),
        ("sku_filter", v) => ("Orders taken with SKUs".to_owned(), list(v, "skus")),
        (_, Value::Bool(on)) => (label.to_owned(), if *on { "on" } else { "off" }.to_owned()),
        (_, other) => (label.to_owned(), other.to_string()),
    }
}

fn hidden_csrf(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    )
}

/// The page's body: one section per offered platform.
#[allow(clippy::too_many_arguments)]
pub fn connect_body(
    token: &str,
    kinds: &[ChannelKind],
    books: &[AccountingKind],
    inputs: &Inputs,
    csrf: &str,
    shopify_offered: bool,
    kept: &Kept,
    problem: Option<&Problem<'_>>,
) -> String {
    let mut body = String::from(
        "<p>Connect your online store with your own login. Your password is never shared: \
         the store asks you to approve the connection, or you give it an API key you can \
         revoke at any time.</p>",
    );
    let token = escape(token);
    let chosen = kept.chosen.as_deref();
    for kind in kinds {
        match kind {
            ChannelKind::Shopify if shopify_offered => body.push_str(&format!(
                "<section aria-labelledby=\"shopify-title\"><h2 id=\"shopify-title\">Shopify</h2>\
                 {alert}<form method=\"post\" action=\"/hosted/{token}/shopify\">{csrf}\
                 <label for=\"shopify-shop\">Your shop's address</label>\
                 <p class=\"hint\" id=\"shopify-shop-hint\">The name before .myshopify.com, \
                 or the whole address.</p>\
                 <input type=\"text\" id=\"shopify-shop\" name=\"shop\" required \
                 autocomplete=\"url\" aria-describedby=\"shopify-shop-hint\" \
                 placeholder=\"your-shop.myshopify.com\" value=\"{shop}\">{settings}\
                 <button type=\"submit\">Connect Shopify</button></form></section>",
                alert = alert(problem, "shopify"),
                csrf = hidden_csrf(csrf),
                shop = escape(&kept.shop),
                settings = settings_fieldset(inputs, "shopify", chosen),
            )),
            // Amazon and eBay channels are created through the API: no hosted sign-in yet.
            ChannelKind::Shopify | ChannelKind::Amazon | ChannelKind::Ebay => {}
            ChannelKind::WooCommerce => body.push_str(&format!(
                "<section aria-labelledby=\"woo-title\"><h2 id=\"woo-title\">WooCommerce</h2>\
                 {alert}<form method=\"post\" action=\"/hosted/{token}/woocommerce/authorize\">\
                 {csrf}<label for=\"woo-store\">Your store's address</label>\
                 <input type=\"url\" id=\"woo-store\" name=\"store_url\" required \
                 autocomplete=\"url\" placeholder=\"https://shop.example.com\" value=\"{url}\">\
                 {settings}<button type=\"submit\">Approve on my store</button></form>\
                 <details{open}><summary>Or enter REST API keys</summary>{keys_alert}\
                 <form method=\"post\" action=\"/hosted/{token}/woocommerce\">{csrf}\
                 <p class=\"hint\">In WooCommerce: Settings, Advanced, REST API, Add key, with \
                 Read/Write permissions.</p>\
                 <label for=\"woo-keys-store\">Your store's address</label>\
                 <input type=\"url\" id=\"woo-keys-store\" name=\"store_url\" required \
                 autocomplete=\"url\" value=\"{url}\">\
                 <label for=\"woo-key\">Consumer key</label>\
                 <input type=\"text\" id=\"woo-key\" name=\"consumer_key\" required \
                 autocomplete=\"off\" spellcheck=\"false\">\
                 <label for=\"woo-secret\">Consumer secret</label>\
                 <input type=\"password\" id=\"woo-secret\" name=\"consumer_secret\" required \
                 autocomplete=\"off\">{keys_settings}\
                 <button type=\"submit\">Connect WooCommerce</button></form></details></section>",
                alert = alert(problem, "woocommerce"),
                keys_alert = alert(problem, "woocommerce-keys"),
                open = if problem.is_some_and(|p| p.form == "woocommerce-keys") {
                    " open"
                } else {
                    ""
                },
                csrf = hidden_csrf(csrf),
                url = escape(&kept.store_url),
                settings = settings_fieldset(inputs, "woo", chosen),
                keys_settings = settings_fieldset(inputs, "woo-keys", chosen),
            )),
        }
    }
    if !books.is_empty() {
        let buttons: String = books
            .iter()
            .map(|kind| {
                format!(
                    "<form method=\"post\" action=\"/hosted/{token}/accounting/{}\">{}\
                     <button type=\"submit\">Connect {}</button></form>",
                    kind.as_str(),
                    hidden_csrf(csrf),
                    kind.name()
                )
            })
            .collect();
        body.push_str(&format!(
            "<section aria-labelledby=\"books-title\"><h2 id=\"books-title\">Accounting</h2>\
             {alert}<p>Connect the accounting package your invoices go to: you sign in on its \
             own site and approve.</p>{buttons}</section>",
            alert = alert(problem, "accounting"),
        ));
    }
    body
}

/// Where the customer lands once their store is connected.
pub fn done_body(platform: &str, name: &str, return_url: Option<&str>) -> String {
    confirmation(
        &format!(
            "Connected: your {platform} store {name} is linked. Orders will start arriving in a \
             few minutes."
        ),
        return_url,
    )
}

/// Where the customer lands once their accounting package is connected.
pub fn books_done_body(platform: &str, organisation: &str, return_url: Option<&str>) -> String {
    confirmation(
        &format!(
            "Connected: your {platform} organisation {organisation} is linked. Invoices will be \
             sent there."
        ),
        return_url,
    )
}

fn confirmation(text: &str, return_url: Option<&str>) -> String {
    let next = return_url
        .map(|u| format!("<p><a href=\"{}\">Continue</a></p>", escape(u)))
        .unwrap_or_else(|| "<p>You can close this page.</p>".to_owned());
    format!("<p role=\"status\">{}</p>{next}", escape(text))
}

/// A page that sends the browser on to the platform, with a link for when it does not.
pub fn onward_body(platform: &str, to: &str) -> (String, String) {
    let to = escape(to);
    (
        format!(
            "<p>Taking you to {} to approve the connection…</p><p><a href=\"{to}\">Continue to \
             {}</a></p>",
            escape(platform),
            escape(platform)
        ),
        to,
    )
}

/// A page in plain words for a link that cannot be used, or a request that went wrong.
pub fn message_body(message: &str) -> String {
    format!("<p role=\"alert\">{}</p>", escape(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_origins_may_frame_the_page() {
        assert_eq!(frame_sources(&[]), "'none'");
        let configured = [
            "https://app.parcel.example".to_owned(),
            "https://x.example/path".to_owned(),
            "https://a.example; script-src *".to_owned(),
            "'unsafe-inline'".to_owned(),
            "http://localhost:3000".to_owned(),
        ];
        assert_eq!(
            frame_sources(&configured),
            "https://app.parcel.example http://localhost:3000"
        );
    }

    #[test]
    fn a_shell_sets_the_policy_and_escapes_the_title() {
        let branding = Branding {
            title: "<b>Parcel</b>".to_owned(),
            ..Branding::default()
        };
        let framers = ["https://app.parcel.example".to_owned()];
        let shell = Shell {
            branding: &branding,
            frame_ancestors: &framers,
            cookie: None,
            refresh: None,
        };
        let res = shell.respond(StatusCode::OK, "<p>hi</p>");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors https://app.parcel.example;"),
            "{csp}"
        );
        assert!(csp.contains("style-src 'nonce-"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
    }
}
