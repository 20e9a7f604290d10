//! The rules every tenant-chosen target URL meets before it is stored (a channel's base URL, a
//! webhook's or a plugin's endpoint): what the guarded client could call at all, and no IP
//! literal the SSRF guard refuses. A host name is judged where it resolves, at every call.

use url::Url;

use super::ssrf::SsrfGuard;

/// Longest target URL accepted.
pub const MAX_URL: usize = 2_000;

/// Whether a target may carry a query string: endpoints may (a receiver's routing token), a
/// channel's base URL may not, as the connector appends its own paths and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    Allowed,
    Refused,
}

/// An absolute http(s) URL of at most [`MAX_URL`] characters, naming a host, without credentials
/// or a fragment, whose host the guard admits when it is an IP literal. Err says why, in words
/// that follow the field's name ("must name a host"). Plain http is accepted: local platforms,
/// fulfilment centres and the sandbox serve it.
pub fn check(text: &str, guard: &SsrfGuard, query: Query) -> Result<Url, String> {
    let text = text.trim();
    if text.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    if query == Query::Refused && url.query().is_some() {
        return Err("must not have a query".into());
    }
    guard
        .check_url(&url)
        .map_err(|e| format!("is refused: {e}"))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, query: Query) -> Option<String> {
        check(text, &SsrfGuard::default(), query)
            .ok()
            .map(String::from)
    }

    #[test]
    fn targets_are_plain_http_urls_the_guard_admits() {
        assert_eq!(
            ok(" https://fc.example/orders?x=1 ", Query::Allowed).as_deref(),
            Some("https://fc.example/orders?x=1")
        );
        assert_eq!(ok("https://fc.example/orders?x=1", Query::Refused), None);
        assert!(ok("http://shop.example:8080/base", Query::Refused).is_some());
        for bad in [
            "ftp://fc.example/",
            "not a url",
            "https://u:p@fc.example/",
            "https://fc.example/#x",
            "http://127.0.0.1:9000/in",
            "http://[::1]/in",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.7/",
            "http://[::ffff:192.168.0.1]/",
            "http://2130706433/",
        ] {
            assert_eq!(ok(bad, Query::Allowed), None, "{bad}");
        }
        assert_eq!(
            ok(
                &format!("https://fc.example/{}", "a".repeat(MAX_URL)),
                Query::Allowed
            ),
            None
        );
    }

    #[test]
    fn the_allow_list_admits_internal_literals() {
        let guard = SsrfGuard::new(&["127.0.0.0/8".into()]).unwrap_or_default();
        assert!(check("http://127.0.0.1:9000/in", &guard, Query::Allowed).is_ok());
        assert!(check("http://10.0.0.7/", &guard, Query::Allowed).is_err());
    }
}
