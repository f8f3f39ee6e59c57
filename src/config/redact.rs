//! Passwords out of URLs, so that a URL can be logged or shown in an error.

/// The URL with any password replaced by `***`, for logs and errors. A comma-separated list
/// of URLs (`amqp.url`) is redacted URL by URL; a Postgres multi-host URL
/// (`postgres://u:p@h1:5432,h2:5432/db`) and a `password=` parameter are redacted too.
pub fn redact_url(url: &str) -> String {
    // A piece that starts with a scheme starts a new URL; any other piece continues the host
    // list of the URL before it.
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

fn redact_one(url: &str) -> String {
    let leading = &url[..url.len() - url.trim_start().len()];
    let Some((scheme, rest)) = url.trim_start().split_once("://") else {
        return "<unparsable url>".into();
    };
    let (main, query) = rest
        .split_once('?')
        .map_or((rest, None), |(m, q)| (m, Some(q)));
    let (authority, path) = main
        .split_once('/')
        .map_or((main, None), |(a, p)| (a, Some(p)));
    let mut out = format!("{leading}{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:***@{host}")),
            None => out.push_str(authority),
        },
        None => out.push_str(authority),
    }
    if let Some(path) = path {
        out.push('/');
        out.push_str(path);
    }
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
