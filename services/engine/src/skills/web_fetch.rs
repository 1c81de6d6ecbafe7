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
        let raw = String::from_utf8_lossy(&fetched.body);
        let text = if kind.contains("html") {
            html_text(&raw)
        } else if kind.is_empty()
            || kind.starts_with("text/")
            || kind.contains("json")
            || kind.contains("xml")
        {
            raw.into_owned()
        } else {
            return Err(Error::invalid(
                "input.url",
                format!("the document is `{kind}`, not text"),
            ));
        };
        let truncated = fetched.truncated || text.chars().count() > MAX_FETCHED_TEXT_CHARS;
        let text: String = text.chars().take(MAX_FETCHED_TEXT_CHARS).collect();
        Ok(json!({
            "url": url,
            "status": fetched.status,
            "content_type": content_type,
            "text": text,
            "truncated": truncated,
            "location": fetched.location,
        }))
    })
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

/// Text of an HTML document: scripts, styles and tags dropped, common entities decoded,
/// whitespace collapsed.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let skip_to = ["script", "style", "noscript"].iter().find_map(|tag| {
                lower[i + 1..]
                    .starts_with(tag)
                    .then(|| lower[i..].find(&format!("</{tag}")).map(|e| i + e))
                    .flatten()
            });
            let from = skip_to.unwrap_or(i);
            match lower[from..].find('>') {
                Some(end) => i = from + end + 1,
                None => break,
            }
            out.push(' ');
        } else {
            let next = html[i..].find('<').map_or(html.len(), |n| i + n);
            out.push_str(&html[i..next]);
            i = next;
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
