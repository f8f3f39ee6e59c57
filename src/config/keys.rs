//! The syntax of an `auth.api_keys` entry: optional scopes, then the key or its digest.
//!
//! ```text
//! s3cret                          the key s3cret, every scope (as before scopes existed)
//! sha256:<64 hex>                 the key with that SHA-256 digest, every scope
//! score:s3cret                    the key s3cret, scope score only
//! score+outcomes:sha256:<64 hex>  that digest, scopes score and outcomes
//! ```
//!
//! An entry is scoped only when everything before its first `:` is scope names joined by `+`;
//! any other entry is a key with every scope, so keys written before scopes keep working
//! (`sha256` is no scope name). This module parses; it must not compare keys (that is
//! `http::auth`, in constant time) nor print a key in an error.

/// What a key may do. Routes ask for one scope each (`http::auth::required_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `POST /predict`, `POST /predict/batch`, `GET /batches/{id}`.
    Score,
    /// `POST /outcomes`.
    Outcomes,
    /// Everything else behind the key: `/admin/...`, `DELETE /employees/...`.
    Admin,
}

impl Scope {
    /// Every scope, in the order the docs list them.
    pub const ALL: [Scope; 3] = [Scope::Score, Scope::Outcomes, Scope::Admin];

    /// The name used in the configuration and in 403 answers.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Scope::Score => "score",
            Scope::Outcomes => "outcomes",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of scopes, as bits (compared in constant time by `http::auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(pub u8);

impl Scopes {
    /// Every scope: a key written without scopes.
    pub const EVERY: Scopes = Scopes(0b111);

    #[must_use]
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }
}

/// The secret part of an entry.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySecret {
    /// The key itself.
    Plain(Vec<u8>),
    /// The lower-case hex SHA-256 of the key (`sha256:<hex>`).
    Digest(String),
}

/// One parsed entry of `auth.api_keys`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub scopes: Scopes,
    pub secret: KeySecret,
}

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySecret::Plain(_) => f.write_str("Plain(<redacted>)"),
            KeySecret::Digest(_) => f.write_str("Digest(<redacted>)"),
        }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiKey {{ scopes: {:?}, secret: <redacted> }}",
            self.scopes
        )
    }
}

/// The prefix of a key given as its SHA-256 digest.
pub const DIGEST_PREFIX: &str = "sha256:";

/// Parses one entry.
///
/// # Errors
/// The rule broken, without the key: a `sha256:` not followed by 64 hex digits, or scopes
/// with no key after them.
pub fn parse(entry: &str) -> Result<ApiKey, String> {
    let (scopes, key) = match entry.split_once(':') {
        Some((head, rest)) => match scope_list(head) {
            Some(scopes) => (scopes, rest),
            None => (Scopes::EVERY, entry),
        },
        None => (Scopes::EVERY, entry),
    };
    if key.is_empty() {
        return Err("a scoped entry needs a key after its scopes (score:<key>)".into());
    }
    let secret = match key.strip_prefix(DIGEST_PREFIX) {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            KeySecret::Digest(hex.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(
                "a sha256: key must be followed by 64 hex digits (sha256sum of the key)".into(),
            )
        }
        None => KeySecret::Plain(key.as_bytes().to_vec()),
    };
    Ok(ApiKey { scopes, secret })
}

/// Every entry, or the first rule broken.
///
/// # Errors
/// As [`parse`].
pub fn parse_all(entries: &[String]) -> Result<Vec<ApiKey>, String> {
    entries.iter().map(|e| parse(e)).collect()
}

/// `score+outcomes` → those scopes; `None` when any part is not a scope name.
fn scope_list(head: &str) -> Option<Scopes> {
    let mut bits = 0;
    for part in head.split('+') {
        let scope = Scope::ALL.into_iter().find(|s| s.name() == part)?;
        bits |= scope.bit();
    }
    Some(Scopes(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn keys_written_before_scopes_have_every_scope() {
        let plain = parse("0042").expect("plain");
        assert_eq!(plain.scopes, Scopes::EVERY);
        assert_eq!(plain.secret, KeySecret::Plain(b"0042".to_vec()));
        let digest = parse(&format!("sha256:{}", HEX.to_uppercase())).expect("digest");
        assert_eq!(digest.scopes, Scopes::EVERY);
        assert_eq!(digest.secret, KeySecret::Digest(HEX.into()));
        // A colon in a key whose head is no scope list is part of the key.
        let colon = parse("team:s3cret").expect("colon");
        assert_eq!(colon.secret, KeySecret::Plain(b"team:s3cret".to_vec()));
        assert_eq!(colon.scopes, Scopes::EVERY);
    }

    #[test]
    fn scopes_come_before_the_key() {
        let key = parse(&format!("score+outcomes:sha256:{HEX}")).expect("scoped digest");
        assert!(key.scopes.contains(Scope::Score) && key.scopes.contains(Scope::Outcomes));
        assert!(!key.scopes.contains(Scope::Admin));
        assert_eq!(key.secret, KeySecret::Digest(HEX.into()));
        let admin = parse("admin:a:b").expect("admin");
        assert_eq!(admin.scopes, Scopes(Scope::Admin.bit()));
        assert_eq!(admin.secret, KeySecret::Plain(b"a:b".to_vec()));
    }

    #[test]
    fn broken_entries_name_the_rule_not_the_key() {
        let message = parse("score:sha256:abc").expect_err("short digest");
        assert!(message.contains("64 hex digits"), "{message}");
        let message = parse("score:").expect_err("no key");
        assert!(message.contains("needs a key"), "{message}");
        assert!(format!("{:?}", parse("hidden").expect("ok")).contains("redacted"));
    }
}
