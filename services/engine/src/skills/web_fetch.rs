//! The `web_fetch` and `file_read` skills: a public page or document through the outbound
//! guard, HTML reduced to text, a text file paged by lines.

use futures::future::BoxFuture;
use openclaw_domain::Error;
use serde_json::{json, Value};

use super::catalogue::{Handler, Permissions, Skill};
use super::SkillContext;

/// `file_read`'s name, which [`super::DEFAULT_SKILLS`] lists.
pub const FILE_READ: &str = "file_read";

pub(super) fn web_fetch_manifest() -> Skill {
    Skill {
        name: "web_fetch",
        version: "1.0.0",
        older_versions: &[],
        description: "Fetch a public web page or text document over HTTP(S) and return its \
                      text (HTML reduced to text). Private and local addresses are refused; \
                      redirects are returned, not followed.",
        input_schema: json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "minLength": 1, "maxLength": 2048,
                        "description": "An http or https URL"}
            },
            "required": ["url"],
            "additionalProperties": false
        }),
        output_schema: json!({
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "status": {"type": "integer"},
                "content_type": {"type": ["string", "null"]},
                "text": {"type": "string"},
                "truncated": {"type": "boolean"},
                "location": {"type": ["string", "null"]}
            },
            "required": ["url", "status", "text", "truncated"],
            "additionalProperties": false
        }),
        permissions: Permissions {
            network: true,
            ..Permissions::default()
        },
        check: None,
        handler: Handler::Net(web_fetch),
    }
}

pub(super) fn file_read_manifest() -> Skill {
    Skill {
        name: FILE_READ,
        version: "1.0.0",
        older_versions: &[],
        description: "Read a text document (code, Markdown, CSV, JSON, logs…) from an http or \
                      https URL, as it is, by lines: `offset` (the first line, from 1) and \
                      `limit` (how many) page through long files. Private and local \
                      addresses are refused.",
        input_schema: json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "minLength": 1, "maxLength": 2048,
                        "description": "An http or https URL"},
                "offset": {"type": "integer", "minimum": 1,
                           "description": "The first line to return, from 1 (default 1)"},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FILE_LINES,
                          "description": "Lines to return (default and most 2000)"}
            },
            "required": ["url"],
            "additionalProperties": false
        }),
        output_schema: json!({
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "content_type": {"type": ["string", "null"]},
                "offset": {"type": "integer"},
                "lines": {"type": "integer"},
                "total_lines": {"type": "integer"},
                "text": {"type": "string"},
                "truncated": {"type": "boolean"}
            },
            "required": ["url", "offset", "lines", "total_lines", "text", "truncated"],
            "additionalProperties": false
        }),
        permissions: Permissions {
            network: true,
            ..Permissions::default()
        },
        check: None,
        handler: Handler::Net(file_read),
    }
}

/// Most characters of text `web_fetch` returns.
const MAX_FETCHED_TEXT_CHARS: usize = 100_000;

fn web_fetch<'a>(input: &'a Value, ctx: &'a SkillContext) -> BoxFuture<'a, Result<Value, Error>> {
    Box::pin(async move {
        let url = input["url"].as_str().unwrap_or_default();
        let fetched = ctx.outbound.get(url, "input.url").await?;
        let content_type = fetched.content_type.clone();
        let kind = content_type.as_deref().unwrap_or("").to_ascii_lowercase();
        let html = kind.contains("html");
        let text_like = kind.is_empty()
            || kind.starts_with("text/")
            || kind.contains("json")
            || kind.contains("xml");
        if !html && !text_like {
            return Err(Error::invalid(
                "input.url",
                format!("the document is `{kind}`, not text"),
            ));
        }
        // Up to a mebibyte of decoding, stripping and counting: on a blocking thread, so a big
        // page holds no async worker that other requests are waiting for.
        let body = fetched.body;
        let (text, cut) = tokio::task::spawn_blocking(move || page_text(&body, html))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "web_fetch's text extraction failed");
                Error::internal()
            })?;
        Ok(json!({
            "url": url,
            "status": fetched.status,
            "content_type": content_type,
            "text": text,
            "truncated": fetched.truncated || cut,
            "location": fetched.location,
        }))
    })
}

/// A fetched body as the text `web_fetch` returns (HTML reduced to text), at most
/// [`MAX_FETCHED_TEXT_CHARS`] characters, and whether it was cut there.
fn page_text(body: &[u8], html: bool) -> (String, bool) {
    let raw = String::from_utf8_lossy(body);
    let text = if html {
        html_text(&raw)
    } else {
        raw.into_owned()
    };
    match text.char_indices().nth(MAX_FETCHED_TEXT_CHARS) {
        Some((end, _)) => (text[..end].to_string(), true),
        None => (text, false),
    }
}

/// Most lines `file_read` returns at once.
const MAX_FILE_LINES: usize = 2000;

fn file_read<'a>(input: &'a Value, ctx: &'a SkillContext) -> BoxFuture<'a, Result<Value, Error>> {
    Box::pin(async move {
        let url = input["url"].as_str().unwrap_or_default();
        let offset = input["offset"].as_u64().unwrap_or(1).max(1) as usize;
        let limit = input["limit"]
            .as_u64()
            .map_or(MAX_FILE_LINES, |l| l as usize);
        let fetched = ctx.outbound.get(url, "input.url").await?;
        if !(200..300).contains(&fetched.status) {
            return Err(Error::invalid(
                "input.url",
                format!("the server answered HTTP {}", fetched.status),
            ));
        }
        let kind = fetched.content_type.as_deref().unwrap_or("");
        let kind = kind.to_ascii_lowercase();
        let text_like = kind.is_empty()
            || kind.starts_with("text/")
            || ["json", "xml", "yaml", "csv", "javascript", "toml"]
                .iter()
                .any(|k| kind.contains(k));
        if !text_like {
            return Err(Error::invalid(
                "input.url",
                format!("the document is `{kind}`, not text"),
            ));
        }
        let raw = String::from_utf8_lossy(&fetched.body);
        let total_lines = raw.lines().count();
        let lines: Vec<&str> = raw.lines().skip(offset - 1).take(limit).collect();
        Ok(json!({
            "url": url,
            "content_type": fetched.content_type,
            "offset": offset,
            "lines": lines.len(),
            "total_lines": total_lines,
            "text": lines.join("\n"),
            // More lines follow, or the body was cut at the outbound size limit.
            "truncated": fetched.truncated || offset - 1 + lines.len() < total_lines,
        }))
    })
}

/// Elements whose contents are not text: skipped up to their closing tag, with the tag that
/// closes each (lower case, as it is looked for in the lowered document).
const SKIPPED_ELEMENTS: [(&str, &str); 3] = [
    ("script", "</script"),
    ("style", "</style"),
    ("noscript", "</noscript"),
];

/// Text of an HTML document: scripts, styles, comments and tags dropped, common entities
/// decoded, whitespace collapsed.
///
/// Written ourselves rather than taken from an HTML-to-text crate: those (`html2text`,
/// `scraper`) parse into a DOM with html5ever, far more code and memory than reading a page's
/// words for a model needs. The scan is one pass: every search starts where the previous one
/// ended and the position only moves forward (a search that finds nothing ends the document),
/// so the work is linear in the page whatever it holds — a mebibyte of unclosed `<script>`
/// tags included, which made the former per-tag search of the rest of the page quadratic.
fn html_text(html: &str) -> String {
    // ASCII lowering keeps every byte where it was, so offsets in `lower` are offsets in `html`.
    let lower = html.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut text = String::with_capacity(html.len() / 2);
    let mut i = 0;
    while i < html.len() {
        let lt = lower[i..].find('<').map_or(html.len(), |n| i + n);
        decode_entities(&html[i..lt], &mut text);
        i = lt;
        let Some(&next) = bytes.get(i + 1) else {
            break;
        };
        // `<` before anything but a tag name, `/`, `!` or `?` is text (`1 < 2`), as browsers
        // read it.
        if !(next.is_ascii_alphabetic() || matches!(next, b'/' | b'!' | b'?')) {
            text.push('<');
            i += 1;
            continue;
        }
        if lower[i + 1..].starts_with("!--") {
            match lower[i + 4..].find("-->") {
                Some(end) => i += 4 + end + 3,
                None => break,
            }
            text.push(' ');
            continue;
        }
        let skipped = SKIPPED_ELEMENTS.iter().find(|(name, _)| {
            lower[i + 1..].starts_with(name) && ends_name(bytes.get(i + 1 + name.len()))
        });
        if let Some((name, close)) = skipped {
            // The contents are not markup: the element ends at its closing tag alone, and one
            // never closed runs to the end of the document, as in a browser.
            match find_closing(&lower, i + 1 + name.len(), close) {
                Some(at) => i = at,
                None => break,
            }
        }
        match lower[i..].find('>') {
            Some(end) => i += end + 1,
            // A tag left open ends the text.
            None => break,
        }
        text.push(' ');
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the byte after a tag name ends it (`<script>`, `<script src=…>`, not `<scripts>`).
fn ends_name(b: Option<&u8>) -> bool {
    b.is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
}

/// Where the closing tag `close` (`</script`) starts at or after `from`, its name ended.
fn find_closing(lower: &str, from: usize, close: &str) -> Option<usize> {
    let mut at = from;
    loop {
        let found = at + lower[at..].find(close)?;
        if ends_name(lower.as_bytes().get(found + close.len())) {
            return Some(found);
        }
        at = found + close.len();
    }
}

/// Appends `s` to `out` with the common named entities and numeric references decoded; anything
/// else that starts with `&` is kept as it is.
fn decode_entities(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // The longest reference decoded is `&#x10ffff;`: look no further for its `;`.
        let decoded = rest
            .bytes()
            .take(12)
            .position(|b| b == b';')
            .and_then(|semi| Some((entity(&rest[1..semi])?, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// The character an entity's name (between `&` and `;`) stands for.
fn entity(name: &str) -> Option<char> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        // A space, so that it collapses like one.
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "deg" => '°',
        "euro" => '€',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            // NUL, surrogates and numbers past Unicode are U+FFFD, as in a browser.
            return Some(
                char::from_u32(code)
                    .filter(|&c| c != '\0')
                    .unwrap_or('\u{fffd}'),
            );
        }
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::OutboundConfig;
    use crate::skills::{builtin, SkillsConfig};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const MIB: usize = 1024 * 1024;

    #[test]
    fn html_becomes_text_without_scripts_styles_or_tags() {
        assert_eq!(
            html_text(
                "<html><style>a{}</style><script>x()</script><p>a &amp; b</p>\n<p>c</p></html>"
            ),
            "a & b c"
        );
        // A tag left open ends the text rather than looping.
        assert_eq!(html_text("before <p"), "before");
        assert_eq!(
            html_text("<SCRIPT type=module>if (a < b) {}</Script >after"),
            "after"
        );
        assert_eq!(
            html_text("<noscript><p>enable JS</p></noscript>x<!-- <p>hidden</p> -->y"),
            "x y"
        );
        // A script's contents end at its closing tag, not at a lookalike.
        assert_eq!(html_text("<script>'</scripts>'</script>z"), "z");
        // `<scripts>` is not `<script>`.
        assert_eq!(html_text("<scripts>kept</scripts>"), "kept");
        assert_eq!(html_text("1 < 2 &lt; 3"), "1 < 2 < 3");
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            html_text("&quot;a&quot; &apos;b&#39; c&nbsp;d &mdash; &#x4e2d;&#25991; &hellip;"),
            "\"a\" 'b' c d — 中文 …"
        );
        // `&amp;lt;` is the text `&lt;`, not `<`.
        assert_eq!(html_text("&amp;lt; &amp;amp;"), "&lt; &amp;");
        // Unknown or unterminated references stay as they are.
        assert_eq!(
            html_text("AT&T &bogus; &#xZZ; &amp"),
            "AT&T &bogus; &#xZZ; &amp"
        );
        assert_eq!(
            html_text("&#0; &#xd800; &#1114112;"),
            "\u{fffd} \u{fffd} \u{fffd}"
        );
    }

    #[test]
    fn a_mebibyte_of_hostile_script_tags_is_stripped() {
        // Unclosed: the first one runs to the end of the page.
        let unclosed = "<script>".repeat(MIB / 8);
        assert_eq!(html_text(&unclosed), "");
        assert_eq!(html_text(&format!("kept{unclosed}")), "kept");
        // Unclosed, each with contents that look like markup.
        let noisy = "<script><p>x</p>".repeat(MIB / 16);
        assert_eq!(html_text(&noisy), "");
        // Closed, with a word after each.
        let closed = "<script>x()</script>a".repeat(MIB / 21);
        let words = html_text(&closed);
        assert_eq!(words.split(' ').count(), MIB / 21);
        assert!(words.split(' ').all(|w| w == "a"));
        // Open tags without their `>`, and comments never closed.
        assert_eq!(html_text(&"<p".repeat(MIB / 2)), "");
        assert_eq!(html_text(&format!("t{}", "<!--".repeat(MIB / 4))), "t");
        assert_eq!(html_text(&"<style>".repeat(MIB / 7)), "");
    }

    #[test]
    fn page_text_is_cut_at_its_character_limit() {
        let long = "数".repeat(MAX_FETCHED_TEXT_CHARS + 1);
        let (text, cut) = page_text(long.as_bytes(), false);
        assert!(cut);
        assert_eq!(text.chars().count(), MAX_FETCHED_TEXT_CHARS);
        let (text, cut) = page_text(b"<p>short</p>", true);
        assert_eq!((text.as_str(), cut), ("short", false));
    }

    /// Serves `body` as `text/html` to one request, from a loopback port.
    async fn serve_once(body: String) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended before its headers");
                request.extend_from_slice(&buf[..n]);
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(body.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn web_fetch_reduces_a_hostile_page_to_its_text() {
        let mut page = String::from("<h1>Top &amp; tail</h1>");
        page.push_str(&"<script>".repeat((MIB - page.len()) / 8));
        assert!(page.len() <= MIB);
        let addr = serve_once(page).await;
        let config = SkillsConfig {
            outbound: OutboundConfig::default().with_allow_list("127.0.0.1"),
            ..SkillsConfig::default()
        };
        let ctx = SkillContext::new(&config);
        let url = format!("http://{addr}/page");
        let out = builtin("web_fetch")
            .unwrap()
            .execute(&json!({ "url": url }), &ctx)
            .await
            .unwrap();
        assert_eq!(out["status"], 200);
        assert_eq!(out["text"], "Top & tail");
        assert_eq!(out["truncated"], false);
    }
}
