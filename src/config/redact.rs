//! Passwords out of URLs, so that a URL can be logged or shown in an error; and where a URL's
//! password ends, even when it holds `@`, `/`, `?` or `,` without percent-encoding.
//!
//! libpq and tokio-postgres end the user information at the first `/` or `?`: a password
//! pasted with one of those unencoded would be read as a host, a path or a query, and a
//! message printing the URL would show it. [`split_url`] reads such a URL as its writer
//! meant it; `storage::tls` re-encodes the password before tokio-postgres parses the URL.

/// The URL with any password replaced by `***`, for logs and errors. A comma-separated list
/// of URLs (`amqp.url`) is redacted URL by URL; a Postgres multi-host URL
/// (`postgres://u:p@h1:5432,h2:5432/db`) and a `password=` parameter are redacted too.
pub fn redact_url(url: &str) -> String {
    // A piece that starts with a scheme starts a new URL; any other piece continues the host
    // list (or the password) of the URL before it.
    let mut urls: Vec<String> = Vec::new();
    for piece in url.split(',') {
        match urls.last_mut() {
            Some(last) if !piece.contains("://") => {
                last.push(',');
                last.push_str(piece);
            }
            _ => urls.push(piece.to_owned()),
        }
    }
    urls.iter()
        .map(|u| redact_one(u))
        .collect::<Vec<_>>()
        .join(",")
}

/// `scheme://[userinfo@]hosts[rest]`, `rest` being empty or starting with `/` or `?`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub userinfo: Option<&'a str>,
    pub hosts: &'a str,
    pub rest: &'a str,
}

/// The parts of a URL. As libpq reads it when that gives a valid host list; otherwise (a
/// password holding `/`, `?` or `@` unencoded) the user information ends at the first `@`
/// followed by a valid host list. `None` without `://`.
pub(crate) fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, after) = url.split_once("://")?;
    let parts = |at: Option<usize>, end: usize| UrlParts {
        scheme,
        userinfo: at.map(|at| &after[..at]),
        hosts: &after[at.map_or(0, |at| at + 1)..end],
        rest: &after[end..],
    };
    let end_from = |start: usize| {
        after[start..]
            .find(['/', '?'])
            .map_or(after.len(), |i| start + i)
    };
    let end = end_from(0);
    let at = after[..end].rfind('@');
    let standard = parts(at, end);
    if valid_hosts(standard.hosts) {
        return Some(standard);
    }
    after
        .match_indices('@')
        .map(|(at, _)| (at, end_from(at + 1)))
        .find(|&(at, end)| valid_hosts(&after[at + 1..end]))
        .map(|(at, end)| parts(Some(at), end))
        .or(Some(standard))
}

/// `host[:port]` or `[v6][:port]`, comma-separated; empty (the local socket) allowed.
fn valid_hosts(hosts: &str) -> bool {
    hosts.split(',').all(|host| {
        let (name, port) = match host.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((addr, tail))
                    if addr
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') =>
                {
                    match tail.strip_prefix(':') {
                        Some(port) => ("v6", Some(port)),
                        None if tail.is_empty() => ("v6", None),
                        None => return false,
                    }
                }
                _ => return false,
            },
            None => match host.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (host, None),
            },
        };
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'%'))
            && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn redact_one(url: &str) -> String {
    let leading = &url[..url.len() - url.trim_start().len()];
    let Some(parts) = split_url(url.trim_start()) else {
        return "<unparsable url>".into();
    };
    let mut out = format!("{leading}{}://", parts.scheme);
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:***@")),
            None => out.push_str(&format!("{userinfo}@")),
        }
    }
    out.push_str(parts.hosts);
    let (path, query) = parts
        .rest
        .split_once('?')
        .map_or((parts.rest, None), |(p, q)| (p, Some(q)));
    out.push_str(path);
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passwords holding each character a URL gives a meaning to, raw and percent-encoded.
    const HARD_PASSWORDS: &[&str] = &[
        "pa?ss", "pa/ss", "pa,ss", "pa@ss", "p?/,@ss", "pa%3Fss", "pa%2Fss", "pa%2Css", "pa%40ss",
    ];

    #[test]
    fn a_password_with_url_characters_is_found_and_hidden() {
        for password in HARD_PASSWORDS {
            for hosts in ["db.example:5432", "h1:5432,h2:5433", "[2001:db8::1]:5432"] {
                let url = format!("postgres://app:{password}@{hosts}/turnover?sslmode=verify-full");
                let parts = split_url(&url).expect("a URL");
                assert_eq!(
                    parts.userinfo,
                    Some(format!("app:{password}").as_str()),
                    "{url}"
                );
                assert_eq!(parts.hosts, hosts, "{url}");
                assert_eq!(parts.rest, "/turnover?sslmode=verify-full");
                let shown = redact_url(&url);
                assert_eq!(
                    shown,
                    format!("postgres://app:***@{hosts}/turnover?sslmode=verify-full")
                );
            }
        }
    }

    #[test]
    fn a_query_holding_at_stays_a_query() {
        let url = "postgres://u:p@h/db?application_name=a@b";
        let parts = split_url(url).expect("a URL");
        assert_eq!((parts.userinfo, parts.hosts), (Some("u:p"), "h"));
        assert_eq!(
            redact_url(url),
            "postgres://u:***@h/db?application_name=a@b"
        );
        let parts = split_url("postgres:///db").expect("socket");
        assert_eq!((parts.userinfo, parts.hosts, parts.rest), (None, "", "/db"));
    }
}
