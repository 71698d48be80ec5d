//! Signing in: `Authorization: Bearer <token>` → the token's SHA-256 digest → the
//! user, role and scope the ledger recorded for it. Tokens are 256-bit random secrets,
//! shown once when issued and never stored.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use ledger_domain::{access, FundId, Role, State, TokenDigest, UnitCode, User, UserId};
use ledger_store::Backend;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{App, Problem};

/// The prefix of every token, so that a leaked one is recognisable in logs and scans.
pub const TOKEN_PREFIX: &str = "wlt_";

/// A fresh token: the prefix and 64 hex digits of operating-system randomness.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// The digest the ledger records for a token: SHA-256 of its text.
pub fn token_digest(token: &str) -> TokenDigest {
    TokenDigest(Sha256::digest(token.as_bytes()).into())
}

/// The signed-in member of staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub record: User,
}

impl Caller {
    pub fn role(&self) -> Role {
        self.record.role()
    }

    /// The unit whose subtree the caller works in; `None` = the whole ledger.
    pub fn scope(&self) -> Option<&UnitCode> {
        self.record.scope()
    }

    /// Auditors, and admins without a scope, read everything.
    pub fn reads_everything(&self) -> bool {
        self.record.reads_whole_ledger()
    }

    /// Refuses unless the caller may read the unit's figures.
    pub fn may_read_unit(&self, state: &State, unit: &UnitCode) -> Result<(), Problem> {
        if access::may_read_unit(state, &self.record, unit) {
            Ok(())
        } else {
            Err(self.out_of_scope(&format!("unit {unit}")))
        }
    }

    /// Refuses unless the caller may read the fund (an unknown fund is 404 for those
    /// who read everything, and out of scope for the others, so ids reveal nothing).
    pub fn may_read_fund(&self, state: &State, fund: &FundId) -> Result<(), Problem> {
        if access::may_read_fund(state, &self.record, fund) {
            Ok(())
        } else {
            Err(self.out_of_scope(&format!("fund {fund}")))
        }
    }

    /// Refuses unless the caller reads the whole ledger (verify, export, audit by actor).
    pub fn must_read_everything(&self, what: &str) -> Result<(), Problem> {
        if self.reads_everything() {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "not_permitted",
                format!(
                    "user {} is a {} of unit {}; {what} is for auditors and admins of the whole ledger",
                    self.user,
                    self.role(),
                    self.scope().map_or("-".to_string(), ToString::to_string)
                ),
            ))
        }
    }

    fn out_of_scope(&self, what: &str) -> Problem {
        Problem::forbidden(
            "out_of_scope",
            format!(
                "user {} works within unit {}, and {what} lies outside it",
                self.user,
                self.scope().map_or("-".to_string(), ToString::to_string)
            ),
        )
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme's name is
/// case-insensitive (RFC 9110, section 11.1), so `bearer` and `BEARER` are accepted.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl<B: Backend> FromRequestParts<Arc<App<B>>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App<B>>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            Problem::unauthorized(
                "token_missing",
                "send the header `Authorization: Bearer <token>`; an admin issues tokens",
            )
        })?;
        let token = header.to_str().ok().and_then(bearer_token).ok_or_else(|| {
            Problem::unauthorized(
                "token_malformed",
                "the Authorization header must read `Bearer <token>`",
            )
        })?;
        let digest = token_digest(token);
        let today = app.today();
        app.engine.read(|model| {
            let (user, record) = model.state().access().sign_in(&digest, today)?;
            Ok(Caller {
                user: user.clone(),
                record: record.clone(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_the_token_is_required() {
        assert_eq!(bearer_token("Bearer wlt_1"), Some("wlt_1"));
        assert_eq!(bearer_token("bearer wlt_1"), Some("wlt_1"));
        assert_eq!(bearer_token("BEARER   wlt_1 "), Some("wlt_1"));
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer   "), None);
        assert_eq!(bearer_token("Basic d2x0XzE="), None);
        assert_eq!(bearer_token("Bearerwlt_1"), None);
        assert_eq!(bearer_token("wlt_1"), None);
    }
}
