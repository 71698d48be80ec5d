//! The language of an error's `detail`: English, or Chinese (简体中文) when the request's `Accept-Language` prefers it and the error has a Chinese rendering (the domain's rejections).
//!
//! A [`Problem`](crate::Problem) that has a Chinese detail answers in English and
//! carries its Chinese body in a response extension ([`ChineseProblem`]);
//! [`negotiate`], a middleware on the API's router, swaps the body when the caller
//! prefers Chinese. Every problem answer says its language in `Content-Language` (`en`
//! or `zh-CN`), and one that has both says `Vary: Accept-Language`. The `code`, the
//! status and every other field are the same in both languages.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The `Content-Language` of an English answer.
pub const ENGLISH: &str = "en";
/// The `Content-Language` of a Chinese answer.
pub const CHINESE: &str = "zh-CN";

/// The problem+json body of an answer in Chinese, kept beside its English body until
/// [`negotiate`] chooses.
#[derive(Debug, Clone)]
pub struct ChineseProblem(pub Bytes);

/// Answers the Chinese body of a problem instead of the English one when the request
/// prefers Chinese.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let chinese = prefers_chinese(request.headers());
    let mut response = next.run(request).await;
    let Some(ChineseProblem(body)) = response.extensions_mut().remove::<ChineseProblem>() else {
        return response;
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("accept-language"));
    if !chinese {
        return response;
    }
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(CHINESE));
    headers.remove(header::CONTENT_LENGTH);
    *response.body_mut() = Body::from(body);
    response
}

/// Whether `Accept-Language` ranks Chinese (`zh`, `zh-CN`, `zh-Hans`, …; not the
/// traditional `zh-Hant`, `zh-TW`, `zh-HK`, `zh-MO`) strictly above English. A language
/// the header does not name takes the weight of `*`, or 0; English wins a tie, and
/// without the header.
pub fn prefers_chinese(headers: &HeaderMap) -> bool {
    let mut chinese = None;
    let mut english = None;
    let mut any = None;
    let ranges = headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for (tag, weight) in ranges.filter_map(language_range) {
        let slot = if tag == "*" {
            &mut any
        } else if is_simplified_chinese(&tag) {
            &mut chinese
        } else if tag == "en" || tag.starts_with("en-") {
            &mut english
        } else {
            continue;
        };
        *slot = Some(slot.map_or(weight, |w: u16| w.max(weight)));
    }
    let any = any.unwrap_or(0);
    chinese.unwrap_or(any) > english.unwrap_or(any)
}

fn is_simplified_chinese(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("zh") else {
        return false;
    };
    if !rest.is_empty() && !rest.starts_with('-') {
        return false;
    }
    !rest
        .split('-')
        .any(|subtag| matches!(subtag, "hant" | "tw" | "hk" | "mo"))
}

/// One element of `Accept-Language` (RFC 9110 §12.5.4): the tag in lower case and its
/// weight in thousandths (`q=0.5` is 500, no `q` is 1000); `None` when malformed.
fn language_range(element: &str) -> Option<(String, u16)> {
    let mut parts = element.split(';');
    let tag = parts.next()?.trim().to_ascii_lowercase();
    if tag.is_empty() {
        return None;
    }
    let mut weight = 1000;
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            weight = quality(value.trim())?;
        }
    }
    Some((tag, weight))
}

/// A qvalue, `0` to `1` with at most three decimals, in thousandths.
fn quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefers(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(value).unwrap(),
        );
        prefers_chinese(&headers)
    }

    #[test]
    fn chinese_is_chosen_only_above_english() {
        for chinese in [
            "zh",
            "zh-CN",
            "zh-Hans",
            "zh-Hans-CN",
            "ZH-cn",
            "zh-CN,zh;q=0.9,en;q=0.8",
            "en;q=0.5, zh-CN",
            "fr, zh;q=0.1",
            "zh;q=0.6, *;q=0.5",
        ] {
            assert!(prefers(chinese), "{chinese}");
        }
        for english in [
            "en",
            "en-US,en;q=0.9",
            "zh;q=0.1, en;q=0.9",
            "zh, en",
            "en, zh",
            "zh;q=0.5, en;q=0.5",
            "*",
            "zh;q=0.5, *;q=0.8",
            "zh-TW",
            "zh-Hant",
            "zh-HK, en;q=0.1",
            "zhx",
            "fr",
            "zh;q=0",
            "zh;q=2",
            "zh;q=0.1234",
            "",
        ] {
            assert!(!prefers(english), "{english}");
        }
        assert!(!prefers_chinese(&HeaderMap::new()), "no header: English");
    }

    #[test]
    fn qvalues_are_read_in_thousandths() {
        assert_eq!(quality("1"), Some(1000));
        assert_eq!(quality("1.000"), Some(1000));
        assert_eq!(quality("0.9"), Some(900));
        assert_eq!(quality("0.05"), Some(50));
        assert_eq!(quality("0"), Some(0));
        assert_eq!(quality("1.5"), None);
        assert_eq!(quality("-0.5"), None);
        assert_eq!(quality("0.x"), None);
    }
}
