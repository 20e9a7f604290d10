//! Assertions on HTTP answers shared by the API test files, whatever harness they start the
//! server with.
#![allow(dead_code)]

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Asserts a problem+json answer with `status`, and returns its body.
pub async fn problem(res: Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status, "status of {}", res.url());
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    res.json().await.expect("a problem is JSON")
}

/// Asserts that a problem body carries `status` and one of switchyard's problem types.
pub fn assert_problem_body(body: &Value, status: u16) {
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://switchyard.dev/problems/")),
        "problem type: {body}"
    );
}

/// The challenge an answer names in `WWW-Authenticate`.
pub fn challenge(res: &Response) -> Option<&str> {
    res.headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
}

/// An answer's JSON body, whatever its status.
pub async fn json_body(res: Response) -> Value {
    res.json().await.expect("a JSON body")
}
