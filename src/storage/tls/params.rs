//! `sslmode` and `sslrootcert` taken out of a Postgres connection string, URL or libpq
//! key=value form, leaving the rest for tokio-postgres.

use percent_encoding::percent_decode_str;

use super::settings;
use crate::storage::StorageError;

/// Takes `sslmode` and `sslrootcert` out of a URL (`postgres://...?sslmode=...`) or a
/// key=value string (`host=... sslmode=...`), returning the rest unchanged in meaning.
pub(super) fn split_ssl_params(
    url: &str,
) -> Result<(String, Option<String>, Option<String>), StorageError> {
    let (mut mode, mut root) = (None, None);
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            mode = Some(value);
            true
        }
        "sslrootcert" => {
            root = Some(value);
            true
        }
        _ => false,
    };
    let trimmed = url.trim();
    let rest = if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        match trimmed.split_once('?') {
            None => trimmed.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let decode = |s: &str| {
                        percent_decode_str(s)
                            .decode_utf8()
                            .map(|c| c.into_owned())
                            .map_err(|_| settings("a URL parameter is not valid UTF-8".into()))
                    };
                    if !take(&decode(key)?, decode(value)?) {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for (key, value) in key_values(trimmed)? {
            if !take(&key, value.clone()) {
                kept.push(format!(
                    "{key}='{}'",
                    value.replace('\\', "\\\\").replace('\'', "\\'")
                ));
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

/// The pairs of a libpq key=value string: `key = value`, values bare or single-quoted, with
/// backslash escapes.
fn key_values(s: &str) -> Result<Vec<(String, String)>, StorageError> {
    let malformed = || settings("the connection string is not key=value pairs".into());
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || key.is_empty() {
            return Err(malformed());
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next().ok_or_else(malformed)? {
                    '\'' => break,
                    '\\' => value.push(chars.next().ok_or_else(malformed)?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next().ok_or_else(malformed)?);
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tokio_postgres::Config;

    use super::*;

    #[test]
    fn ssl_parameters_leave_the_url() {
        let (rest, mode, root) = split_ssl_params(
            "postgres://u:p@db:5433/turnover?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem",
        )
        .expect("splits");
        assert_eq!(rest, "postgres://u:p@db:5433/turnover?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca dir/ca.pem"));
        let (rest, mode, _) =
            split_ssl_params("postgresql://db/t?sslmode=require").expect("splits");
        assert_eq!(
            (rest.as_str(), mode.as_deref()),
            ("postgresql://db/t", Some("require"))
        );
    }

    #[test]
    fn ssl_parameters_leave_a_key_value_string() {
        let (rest, mode, root) = split_ssl_params(
            "host=db port = 5433 sslmode=verify-ca sslrootcert='/etc/my ca.pem' password='it\\'s'",
        )
        .expect("splits");
        assert_eq!(rest, "host='db' port='5433' password='it\\'s'");
        assert_eq!(mode.as_deref(), Some("verify-ca"));
        assert_eq!(root.as_deref(), Some("/etc/my ca.pem"));
        let config = Config::from_str(&rest).expect("tokio-postgres reads it back");
        assert_eq!(config.get_password(), Some(&b"it's"[..]));
        assert!(split_ssl_params("host=db sslmode").is_err());
    }
}
