//! The dashboard's HTML: one page shell, escaping, and the stylesheet.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::session::{Role, Session};

/// Text made safe inside HTML elements and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A one-button POST form carrying the session's CSRF token.
pub fn action_form(action: &str, csrf: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">{}</button></form>",
        escape(action),
        escape(csrf),
        escape(label)
    )
}

/// A page being written.
pub struct Page {
    title: String,
    body: String,
    scripts: Vec<&'static str>,
}

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_owned(),
            body: String::new(),
            scripts: Vec::new(),
        }
    }

    /// A page with the signed-in header: who is signed in, and the sign-out button.
    pub fn signed_in(title: &str, session: &Session, csrf: &str) -> Page {
        let mut p = Page::new(title);
        let role = match session.role {
            Role::Ops => "operator",
            Role::Viewer => "read only",
        };
        p.push(&format!(
            "<nav><a href=\"/dashboard\">Queues</a> <a href=\"/dashboard/channels\">Channels</a> \
             <a href=\"/dashboard/webhooks\">Webhooks</a> <a href=\"/dashboard/plugins\">Plugins</a> <span class=\"role\">Signed in: {role}</span> {}</nav>",
            action_form("/dashboard/sign-out", csrf, "Sign out")
        ));
        p
    }

    /// A message the page leads with, announced to screen readers.
    pub fn alert(&mut self, text: &str) {
        self.push(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(text)
        ));
    }

    /// A message saying what the last action did, announced politely.
    pub fn notice(&mut self, text: &str) {
        self.push(&format!(
            "<p class=\"notice\" role=\"status\">{}</p>",
            escape(text)
        ));
    }

    /// A script of switchyard's own, loaded deferred; the page works without it.
    pub fn script(&mut self, src: &'static str) {
        self.scripts.push(src);
    }

    pub fn push(&mut self, html: &str) {
        self.body.push_str(html);
    }

    pub fn into_response(self, status: StatusCode) -> Response {
        let scripts: String = self
            .scripts
            .iter()
            .map(|src| format!("<script src=\"{}\" defer></script>", escape(src)))
            .collect();
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · switchyard</title>\
             <link rel=\"stylesheet\" href=\"/dashboard/style.css\">{scripts}</head>\
             <body><header><h1>switchyard · {title}</h1></header><main>{body}</main></body></html>",
            title = escape(&self.title),
            body = self.body
        );
        html_response(
            status,
            html,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        )
    }
}

/// An HTML page of switchyard's own: never cached, never sniffed, sending no referrer, under
/// the content security policy `csp`. The dashboard and the hosted pages answer with it.
pub fn html_response(status: StatusCode, html: String, csp: HeaderValue) -> Response {
    let mut res = (status, html).into_response();
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("content-security-policy", csp);
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

pub const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f23;background:#fff}\
header{background:#1b1f23;color:#fff;padding:.6rem 1rem}header h1{font-size:1.1rem;margin:0}\
main{padding:1rem;max-width:72rem}nav{margin-bottom:1rem}nav .role{margin:0 1rem;color:#555}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd}\
caption{text-align:left;color:#555;padding:.3rem 0}form.inline{display:inline}\
label{display:block;margin-top:.6rem}input,select{font:inherit;padding:.3rem;margin:.2rem 0}\
button{font:inherit;padding:.3rem .8rem;margin:.2rem .2rem .2rem 0;cursor:pointer}\
button:focus,a:focus,input:focus,select:focus{outline:3px solid #0a58ca;outline-offset:1px}\
.error{color:#a4161a}pre{background:#f6f8fa;padding:.6rem;overflow:auto}\
section.job{border-top:1px solid #ddd;margin-top:1rem}.find{margin-top:2rem}\
.notice{color:#14532d}dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}dd{margin:0}\
svg.chart{width:9rem;height:1.8rem;display:block}svg.chart polyline{fill:none;stroke-width:1.5}\
polyline.enqueued{stroke:#0a58ca}polyline.finished{stroke:#198754}polyline.latency{stroke:#b35c00}\
span.enqueued{color:#0a58ca}span.finished{color:#198754}span.latency{color:#b35c00}\
#live-status{color:#555}form.bulk,form.confirm{margin:1rem 0}";
