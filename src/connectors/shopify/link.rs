//! Shopify's cursor paging: one `Link` header holding `<url>; rel="previous", <url>; rel="next"`.
//! The next URL is followed exactly as given (it carries `page_info` and everything else needed),
//! but only to the shop we were configured for, so a forged header cannot send our access token
//! elsewhere.

use url::Url;

/// The `rel="next"` URL of a `Link` header value, if any.
pub fn next_url(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let url = &after[..close];
        let params_end = after[close + 1..]
            .find('<')
            .map_or(after.len(), |i| close + 1 + i);
        let params = &after[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            return Some(url);
        }
        rest = &after[params_end..];
    }
    None
}

/// True when `candidate` is on the same scheme, host and port as `base`.
pub fn same_origin(base: &Url, candidate: &Url) -> bool {
    base.origin() == candidate.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_previous_and_next() {
        let header = r#"<https://s.myshopify.com/admin/api/2024-07/orders.json?limit=250&page_info=abc>; rel="previous", <https://s.myshopify.com/admin/api/2024-07/orders.json?limit=250&page_info=def>; rel="next""#;
        assert_eq!(
            next_url(header),
            Some("https://s.myshopify.com/admin/api/2024-07/orders.json?limit=250&page_info=def")
        );
        let only_previous = r#"<https://s.myshopify.com/o.json?page_info=abc>; rel="previous""#;
        assert_eq!(next_url(only_previous), None);
        assert_eq!(next_url(""), None);
        assert_eq!(next_url("<broken"), None);
    }

    #[test]
    fn only_the_configured_origin_is_followed() {
        let base = Url::parse("http://127.0.0.1:8080/shopify/acme/").ok();
        let same = Url::parse("http://127.0.0.1:8080/shopify/acme/admin/x.json?page_info=1").ok();
        let other = Url::parse("http://evil.example/admin/x.json").ok();
        let (Some(base), Some(same), Some(other)) = (base, same, other) else {
            panic!("test URLs parse");
        };
        assert!(same_origin(&base, &same));
        assert!(!same_origin(&base, &other));
    }
}
