//! A URL's user name and password percent-encoded, so that tokio-postgres reads them whole:
//! a password pasted with `@`, `/`, `?` or `,` unencoded would otherwise be cut at that
//! character and the rest read as a host, a path or a query.
//!
//! Where the password ends is `config::redact`'s [`split_url`], the same reading that hides
//! it in messages. Escapes already present (`%40`) are kept: a password written encoded
//! stays as written. Nothing here formats a URL into a message.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::split_url;

/// What stays as is in user information: RFC 3986's unreserved characters. `%` is handled
/// apart (kept when it starts an escape).
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `url` with its user and password percent-encoded; a key=value string or a URL without a
/// password unchanged.
pub(super) fn encode_userinfo(url: &str) -> String {
    let trimmed = url.trim();
    let Some(parts) = split_url(trimmed) else {
        return url.to_owned();
    };
    let Some(userinfo) = parts.userinfo else {
        return url.to_owned();
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let mut out = format!("{}://{}", parts.scheme, encode(user));
    if let Some(password) = password {
        out.push(':');
        out.push_str(&encode(password));
    }
    out.push('@');
    out.push_str(parts.hosts);
    out.push_str(parts.rest);
    out
}

/// Encodes what needs it, keeping `%XX` escapes.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('%') {
        out.extend(utf8_percent_encode(&rest[..i], ENCODED));
        let escape = rest.get(i + 1..i + 3);
        if escape.is_some_and(|e| e.bytes().all(|b| b.is_ascii_hexdigit())) {
            out.push_str(&rest[i..i + 3]);
            rest = &rest[i + 3..];
        } else {
            out.push_str("%25");
            rest = &rest[i + 1..];
        }
    }
    out.extend(utf8_percent_encode(rest, ENCODED));
    out
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tokio_postgres::Config;

    use super::*;

    #[test]
    fn tokio_postgres_reads_the_whole_password() {
        for (written, meant) in [
            ("pa?ss", "pa?ss"),
            ("pa/ss", "pa/ss"),
            ("pa,ss", "pa,ss"),
            ("pa@ss", "pa@ss"),
            ("p?/,@ss", "p?/,@ss"),
            ("pa%3Fss", "pa?ss"),
            ("pa%40ss", "pa@ss"),
            ("100%", "100%"),
            ("plain", "plain"),
        ] {
            let url = format!("postgres://app:{written}@h1:5432,h2:5433/turnover?sslmode=require");
            let config = Config::from_str(&encode_userinfo(&url)).expect(written);
            assert_eq!(config.get_password(), Some(meant.as_bytes()), "{written}");
            assert_eq!(config.get_user(), Some("app"));
            assert_eq!(config.get_dbname(), Some("turnover"));
            assert_eq!(config.get_ports(), [5432, 5433]);
        }
        assert_eq!(
            encode_userinfo("host=db password=a@b"),
            "host=db password=a@b"
        );
    }
}
