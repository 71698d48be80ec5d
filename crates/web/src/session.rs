//! Cookies: the bearer token (HttpOnly, SameSite=Strict), the CSRF token that every
//! form carries back (double submit: the form's hidden field must equal the cookie),
//! and the language. No session is kept on the server: the token itself signs in,
//! through the API, on every request.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use rand::RngCore;

use crate::i18n::Lang;

pub const TOKEN_COOKIE: &str = "wl_token";
pub const CSRF_COOKIE: &str = "wl_csrf";
pub const LANG_COOKIE: &str = "wl_lang";

/// What the browser's cookies say.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: Option<String>,
    csrf_cookie: Option<String>,
    /// The CSRF token of this page: the cookie's, or a fresh one to set.
    pub csrf: String,
    pub lang: Lang,
    /// The browser reached the site over HTTPS (a TLS proxy in front says so with
    /// `X-Forwarded-Proto: https` or `Forwarded: proto=https`): cookies get `Secure`.
    secure: bool,
}

impl Session {
    pub fn from_headers(headers: &HeaderMap) -> Session {
        let token = cookie(headers, TOKEN_COOKIE).filter(|t| !t.is_empty());
        let csrf_cookie = cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 64);
        let lang = Lang::from_cookie(cookie(headers, LANG_COOKIE).as_deref());
        let csrf = csrf_cookie.clone().unwrap_or_else(random_hex);
        Session {
            token,
            csrf_cookie,
            csrf,
            lang,
            secure: over_https(headers),
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole site, and
    /// `Secure` when the browser came over HTTPS. `max_age` 0 deletes it. The server
    /// itself answers plain HTTP; a TLS proxy in front of it tells it the scheme.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: Option<u32>) -> Option<HeaderValue> {
        let age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}{secure}"
        ))
        .ok()
    }

    /// Whether a submitted form's CSRF field matches the cookie (both present).
    pub fn csrf_matches(&self, submitted: Option<&str>) -> bool {
        match (&self.csrf_cookie, submitted) {
            (Some(cookie), Some(field)) => constant_time_eq(cookie.as_bytes(), field.as_bytes()),
            _ => false,
        }
    }

    /// The `Set-Cookie` for the CSRF token when the browser has none yet.
    pub fn csrf_set_cookie(&self) -> Option<HeaderValue> {
        if self.csrf_cookie.is_some() {
            return None;
        }
        self.set_cookie(CSRF_COOKIE, &self.csrf, None)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Session::from_headers(&parts.headers))
    }
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether a proxy in front says the request came over HTTPS: `X-Forwarded-Proto:
/// https`, or `proto=https` in the first element of `Forwarded` (RFC 7239).
fn over_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| {
            first.split(';').any(|pair| {
                pair.trim().split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        });
    forwarded_proto || forwarded
}

/// 32 random bytes as 64 hex digits (CSRF tokens, idempotency keys).
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A fresh idempotency key for a form: the command id it records under.
pub fn idempotency_key() -> String {
    format!("web-{}", &random_hex()[..32])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; wl_token=wlt_x; wl_lang=en"),
        );
        assert_eq!(cookie(&headers, TOKEN_COOKIE).as_deref(), Some("wlt_x"));
        assert_eq!(cookie(&headers, "missing"), None);
        let session = Session::from_headers(&headers);
        assert_eq!(session.lang, Lang::En);
        assert!(
            session.csrf_set_cookie().is_some(),
            "a CSRF cookie is set when missing"
        );
        assert!(
            !session.csrf_matches(Some(&session.csrf)),
            "no cookie, no match"
        );
    }

    #[test]
    fn the_csrf_field_must_equal_the_cookie() {
        let token = "a".repeat(64);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("wl_csrf={token}")).unwrap(),
        );
        let session = Session::from_headers(&headers);
        assert!(session.csrf_matches(Some(&token)));
        assert!(!session.csrf_matches(Some(&"b".repeat(64))));
        assert!(!session.csrf_matches(None));
        assert!(session.csrf_set_cookie().is_none());
    }

    #[test]
    fn cookies_are_secure_when_a_proxy_says_the_browser_came_over_https() {
        let plain = Session::from_headers(&HeaderMap::new());
        let cookie = plain.set_cookie(TOKEN_COOKIE, "wlt_x", None).unwrap();
        assert_eq!(
            cookie.to_str().unwrap(),
            "wl_token=wlt_x; Path=/; HttpOnly; SameSite=Strict"
        );
        for (name, value) in [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "HTTPS, http"),
            ("forwarded", "for=192.0.2.60;proto=https;by=203.0.113.43"),
            ("forwarded", "proto=\"https\", proto=http"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            let session = Session::from_headers(&headers);
            let cookie = session.set_cookie(TOKEN_COOKIE, "", Some(0)).unwrap();
            assert_eq!(
                cookie.to_str().unwrap(),
                "wl_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure",
                "{name}: {value}"
            );
            assert!(session
                .csrf_set_cookie()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("; Secure"));
        }
        for (name, value) in [
            ("x-forwarded-proto", "http"),
            ("x-forwarded-proto", "http, https"),
            ("forwarded", "for=192.0.2.60;proto=http"),
            ("forwarded", "proto=http, proto=https"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            let cookie = Session::from_headers(&headers)
                .set_cookie(LANG_COOKIE, "en", None)
                .unwrap();
            assert!(
                !cookie.to_str().unwrap().contains("Secure"),
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn keys_are_fresh_and_valid_command_ids() {
        let (a, b) = (idempotency_key(), idempotency_key());
        assert_ne!(a, b);
        assert!(ledger_store::CommandId::new(format!("{a}.9")).is_ok());
    }
}
