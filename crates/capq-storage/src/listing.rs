//! Reading the file names out of a folder served over HTTP.
//!
//! HTTP has no "list this folder" request, so a folder is listed by fetching its URL and reading
//! what comes back: either a JSON array of names (easy to serve from anywhere) or the HTML index
//! that `python3 -m http.server`, nginx `autoindex` or Apache generate. From HTML, only links to
//! files directly inside the folder count: parent and sub-folder links, sort links with query
//! strings and links to other hosts are skipped, and names are percent-decoded.

use std::collections::BTreeSet;

/// The sorted, de-duplicated file names in a listing of `folder` (whose path ends with `/`).
pub(crate) fn parse_listing(folder: &url::Url, body: &[u8]) -> Vec<String> {
    if let Some(names) = json_names(body) {
        return names;
    }
    let html = String::from_utf8_lossy(body);
    let names: BTreeSet<String> = hrefs(&html)
        .filter_map(|href| file_name(folder, &unescape_html(href)))
        .collect();
    names.into_iter().collect()
}

/// The names of a JSON array of strings, if the body is one; entries that are not plain file
/// names (empty, or with a `/`) are dropped.
fn json_names(body: &[u8]) -> Option<Vec<String>> {
    if !body.trim_ascii_start().starts_with(b"[") {
        return None;
    }
    let names: Vec<String> = serde_json::from_slice(body).ok()?;
    let names: BTreeSet<String> = names
        .into_iter()
        .filter(|name| !name.is_empty() && !name.contains('/') && name != "." && name != "..")
        .collect();
    Some(names.into_iter().collect())
}

/// The values of every `href=` attribute (double-, single- or un-quoted), in order.
fn hrefs(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let at = find_ignore_case(rest, "href")?;
            let after = rest[at + 4..].trim_start();
            rest = &rest[at + 4..];
            let Some(value) = after.strip_prefix('=') else {
                continue;
            };
            let value = value.trim_start();
            let (text, remainder) = match value.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let inner = &value[1..];
                    let end = inner.find(quote).unwrap_or(inner.len());
                    (&inner[..end], &inner[end..])
                }
                _ => {
                    let end = value
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .unwrap_or(value.len());
                    (&value[..end], &value[end..])
                }
            };
            rest = remainder;
            return Some(text);
        }
    })
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The decoded file name `href` points to, if it is a file directly inside `folder`.
fn file_name(folder: &url::Url, href: &str) -> Option<String> {
    if href.is_empty() || href.contains('?') || href.starts_with('#') {
        return None;
    }
    let target = folder.join(href).ok()?;
    let same_origin = target.scheme() == folder.scheme()
        && target.host_str() == folder.host_str()
        && target.port_or_known_default() == folder.port_or_known_default();
    if !same_origin {
        return None;
    }
    let encoded = target.path().strip_prefix(folder.path())?;
    if encoded.is_empty() || encoded.contains('/') {
        // The folder itself, or something in a sub-folder (or the sub-folder).
        return None;
    }
    let name = percent_decode(encoded)?;
    (!name.is_empty() && !name.contains('/') && name != "." && name != "..").then_some(name)
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes the few entities that appear in generated `href`s.
fn unescape_html(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> url::Url {
        url::Url::parse("http://127.0.0.1:8000/data/stops/").unwrap()
    }

    #[test]
    fn reads_python_http_server_indexes() {
        let html = r#"<!DOCTYPE HTML>
<html lang="en"><head><title>Directory listing for /data/stops/</title></head>
<body><h1>Directory listing for /data/stops/</h1><hr><ul>
<li><a href="stops_20160821_20170121.csv.gz">stops_20160821_20170121.csv.gz</a></li>
<li><a href="a%20b%26c.csv">a b&amp;c.csv</a></li>
<li><a href="old/">old/</a></li>
</ul><hr></body></html>"#;
        assert_eq!(
            parse_listing(&folder(), html.as_bytes()),
            ["a b&c.csv", "stops_20160821_20170121.csv.gz"]
        );
    }

    #[test]
    fn reads_nginx_and_apache_indexes_skipping_navigation() {
        let html = r##"<html><head><title>Index of /data/stops/</title></head><body>
<h1>Index of /data/stops/</h1><hr><pre><a href="../">../</a>
<a href="?C=N;O=D">Name</a> <a HREF='?C=M;O=A'>Last modified</a>
<a href="/data/">Parent Directory</a>
<a href="b.csv">b.csv</a>                 25-Nov-2016 10:00   123
<a href="/data/stops/a.csv.gz">a.csv.gz</a>
<a href="http://127.0.0.1:8000/data/stops/c.csv">c.csv</a>
<a href="http://elsewhere.example/data/stops/d.csv">d.csv</a>
<a href="https://127.0.0.1:8000/data/stops/e.csv">e.csv</a>
<a href="#top">top</a> <a href=f.csv>f.csv</a> <a href="b.csv">again</a>
<a href="./">.</a> <a href="sub/x.csv">x</a> <a href="mailto:x@y">mail</a>
</pre><hr></body></html>"##;
        assert_eq!(
            parse_listing(&folder(), html.as_bytes()),
            ["a.csv.gz", "b.csv", "c.csv", "f.csv"]
        );
    }

    #[test]
    fn reads_json_arrays() {
        let body = br#" ["b.csv", "a.csv.gz", "", "x/y.csv", "a.csv.gz"] "#;
        assert_eq!(parse_listing(&folder(), body), ["a.csv.gz", "b.csv"]);
        // Not an array of strings: read as HTML, which has no links.
        assert!(parse_listing(&folder(), br#"[1, 2]"#).is_empty());
        assert!(parse_listing(&folder(), b"").is_empty());
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(percent_decode("a%20b"), Some("a b".into()));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("caf%C3%A9"), Some("café".into()));
    }
}
