//! Writing HTML and SVG into a `String`: escaping of every text that comes from the data, and
//! the `w!` macro. Directions are free text (a headsign could hold `<script>`), so nothing from
//! the files reaches the page without going through [`Esc`].

use std::fmt;

/// `write!` into a `String`, which cannot fail: the `fmt::Result` carries no information here.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
    }};
}
pub(crate) use w;

/// Text escaped for HTML text and for double- or single-quoted attribute values (and so for
/// inline SVG, which the HTML parser reads the same way).
#[derive(Debug, Clone, Copy)]
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// [`Esc`] into a new `String`.
#[cfg(test)]
pub fn escape(text: &str) -> String {
    Esc(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(
            escape("801 SOUTH PARK – Südpark"),
            "801 SOUTH PARK – Südpark"
        );
        assert_eq!(escape(""), "");
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn the_macro_writes_into_a_string() {
        let mut out = String::new();
        w!(out, "<td>{}</td>", Esc("a<b"));
        assert_eq!(out, "<td>a&lt;b</td>");
    }
}
