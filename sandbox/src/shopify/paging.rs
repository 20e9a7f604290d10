//! Cursor pagination the way Shopify's REST Admin API does it: an opaque `page_info` token that
//! carries the filters of the first request plus a position, and one `Link` header with absolute
//! `rel="previous"` / `rel="next"` URLs that hold everything needed to continue.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::orderbook::{SortBy, SortKey};

/// What a `page_info` token carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PageToken<F> {
    /// The filters of the first request, which later requests may not repeat.
    pub filters: F,
    pub sort: SortBy,
    pub descending: bool,
    /// True for a `rel="previous"` token: walk back from `cursor`.
    pub backwards: bool,
    pub cursor: SortKey,
}

impl<F> PageToken<F> {
    /// The token of a listing's first page: its filters and order, from the start.
    pub fn first(filters: F, sort: SortBy, descending: bool) -> PageToken<F> {
        PageToken {
            filters,
            sort,
            descending,
            backwards: false,
            cursor: (0, 0),
        }
    }
}

pub fn encode<F: Serialize>(token: &PageToken<F>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(token).unwrap_or_default())
}

pub fn decode<F: DeserializeOwned>(text: &str) -> Option<PageToken<F>> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The parameters other than these cannot accompany `page_info`.
pub const ALLOWED_WITH_PAGE_INFO: &[&str] = &["page_info", "limit", "fields"];

/// The message Shopify gives for a filter repeated alongside `page_info`.
pub fn forbidden_with_page_info(param: &str) -> String {
    format!(
        "{param} cannot be passed when page_info is present. See https://shopify.dev/api/usage/pagination-rest for more information."
    )
}

/// Builds the `Link` header value for `url` (absolute, without query), or `None` for a single page.
pub fn link_header(
    url: &str,
    limit: usize,
    previous: Option<String>,
    next: Option<String>,
) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(token) = previous {
        parts.push(format!(
            "<{url}?limit={limit}&page_info={token}>; rel=\"previous\""
        ));
    }
    if let Some(token) = next {
        parts.push(format!(
            "<{url}?limit={limit}&page_info={token}>; rel=\"next\""
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// One page of a walk: the items plus the tokens for its neighbours.
pub struct Page<'a, O> {
    pub items: Vec<&'a O>,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// Takes a page from `walk` (already positioned after the cursor, in the direction of travel).
/// `key` gives an item's position; `template` is the token whose cursor/direction get replaced.
pub fn take_page<'a, O, F: Serialize + Clone>(
    walk: impl Iterator<Item = &'a O>,
    limit: usize,
    template: &PageToken<F>,
    from_token: bool,
    key: impl Fn(&O) -> SortKey,
) -> Page<'a, O> {
    let mut items: Vec<&O> = walk.take(limit + 1).collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let backwards = template.backwards;
    if backwards {
        items.reverse();
    }
    let (has_previous, has_next) = if backwards {
        (more, true)
    } else {
        (from_token, more)
    };
    let token = |cursor: SortKey, backwards: bool| {
        encode(&PageToken {
            cursor,
            backwards,
            ..template.clone()
        })
    };
    let previous = match items.first() {
        Some(first) if has_previous => Some(token(key(first), true)),
        _ => None,
    };
    let next = match items.last() {
        Some(last) if has_next => Some(token(key(last), false)),
        _ => None,
    };
    Page {
        items,
        previous,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_garbage_is_rejected() {
        let token = PageToken {
            filters: vec!["a".to_string()],
            sort: SortBy::Updated,
            descending: false,
            backwards: true,
            cursor: (5, 9),
        };
        let text = encode(&token);
        assert_eq!(decode::<Vec<String>>(&text), Some(token));
        assert_eq!(decode::<Vec<String>>("not-a-token"), None);
        assert_eq!(link_header("http://x/o.json", 5, None, None), None);
        assert_eq!(
            link_header("http://x/o.json", 5, Some("p".into()), Some("n".into())).as_deref(),
            Some("<http://x/o.json?limit=5&page_info=p>; rel=\"previous\", <http://x/o.json?limit=5&page_info=n>; rel=\"next\"")
        );
    }
}
