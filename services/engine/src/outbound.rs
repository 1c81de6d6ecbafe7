//! Outbound HTTP for skills: refuses private, loopback, link-local and other non-public addresses
//! (checked after DNS resolution, on the addresses the connection will use, so a name cannot be
//! re-pointed between the check and the connect), never follows redirects, and caps time and
//! size. Hosts the operator allow-lists (`OPENCLAW_OUTBOUND_ALLOW_HOSTS`) skip the address check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use openclaw_domain::{Error, ErrorKind};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// `host` or `host:port` entries whose addresses are not checked (tests, private deployments).
    pub allow_hosts: Vec<String>,
    pub timeout: Duration,
    /// Most bytes of a response body read.
    pub max_bytes: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow_hosts: Vec::new(),
            timeout: Duration::from_secs(10),
            max_bytes: 1024 * 1024,
        }
    }
}

impl OutboundConfig {
    /// The comma-separated `OPENCLAW_OUTBOUND_ALLOW_HOSTS`.
    pub fn with_allow_list(mut self, list: &str) -> Self {
        self.allow_hosts = list
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        self
    }
}

/// Whether an address is one the public internet routes to us: anything else (loopback,
/// private, link-local, shared, documentation, multicast, unspecified…) is refused.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// The resolver's refusal, found again in a failed request's error chain.
#[derive(Debug)]
struct NoPublicAddress(String);

impl std::fmt::Display for NoPublicAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to no public address", self.0)
    }
}

impl std::error::Error for NoPublicAddress {}

/// Resolves names and keeps only public addresses, failing when none is left: the client that
/// uses it can only ever connect to public addresses.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(NoPublicAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A POST's body, extra headers and timeout.
type Post = (Vec<u8>, Vec<(&'static str, String)>, Duration);

/// What a guarded GET returned (the body cut at the size cap).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    /// Where a redirect points (it is not followed).
    pub location: Option<String>,
    pub body: Vec<u8>,
    pub truncated: bool,
}

#[derive(Clone)]
pub struct Outbound {
    guarded: reqwest::Client,
    /// For allow-listed hosts only.
    open: reqwest::Client,
    config: Arc<OutboundConfig>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allow_hosts", &self.config.allow_hosts)
            .finish_non_exhaustive()
    }
}

fn refused(param: &str, message: String) -> Error {
    Error::invalid(param, message)
}

impl Outbound {
    pub fn new(config: OutboundConfig) -> Outbound {
        let build = |guarded: bool| {
            let builder = reqwest::Client::builder()
                .redirect(Policy::none())
                .timeout(config.timeout)
                .connect_timeout(config.timeout.min(Duration::from_secs(5)))
                .user_agent(concat!("openclaw/", env!("CARGO_PKG_VERSION")));
            let builder = if guarded {
                builder.dns_resolver(Arc::new(PublicOnly))
            } else {
                builder
            };
            builder.build().expect("an HTTP client with default TLS")
        };
        Outbound {
            guarded: build(true),
            open: build(false),
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &OutboundConfig {
        &self.config
    }

    /// Whether `url` may be a tenant skill's endpoint: https, or plain http to a host the
    /// operator allow-listed (a test server, a private deployment).
    pub fn endpoint_acceptable(&self, url: &str) -> bool {
        match reqwest::Url::parse(url) {
            Ok(u) if u.scheme() == "https" => u.host_str().is_some(),
            Ok(u) if u.scheme() == "http" => u.host_str().is_some_and(|h| {
                self.allowed(
                    &h.to_ascii_lowercase(),
                    u.port_or_known_default().unwrap_or(80),
                )
            }),
            _ => false,
        }
    }

    fn allowed(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let with_port = format!("{host}:{port}");
        self.config
            .allow_hosts
            .iter()
            .any(|h| h == host || *h == with_port)
    }

    /// GETs `url` (http or https), naming `param` in refusals: non-public addresses (unless
    /// allow-listed), redirects (returned as they are, never followed), slow or huge answers.
    pub async fn get(&self, url: &str, param: &str) -> Result<Fetched, Error> {
        self.send(url, None, param).await
    }

    /// POSTs a JSON `body` with extra `headers`, within `timeout`, under the same guard as
    /// [`Outbound::get`].
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
        timeout: Duration,
        param: &str,
    ) -> Result<Fetched, Error> {
        self.send(url, Some((body, headers, timeout)), param).await
    }

    async fn send(&self, url: &str, post: Option<Post>, param: &str) -> Result<Fetched, Error> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| refused(param, format!("`{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refused(
                param,
                "only http and https URLs can be fetched".into(),
            ));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| refused(param, "the URL has no host".into()))?
            .to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let client = if self.allowed(&host, port) {
            &self.open
        } else {
            // An address written in the URL never reaches the resolver: check it here.
            if let Ok(ip) = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
            {
                if !is_public(ip) {
                    return Err(refused(
                        param,
                        format!("{ip} is not a public address; fetching it is not allowed"),
                    ));
                }
            }
            &self.guarded
        };
        let request = match post {
            None => client.get(parsed),
            Some((body, headers, timeout)) => {
                let mut r = client
                    .post(parsed)
                    // The caller's own bound (a tenant skill's, up to 30 s) replaces the client's.
                    .timeout(timeout)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                for (name, value) in headers {
                    r = r.header(name, value);
                }
                r
            }
        };
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::new(
                    ErrorKind::UpstreamTimeout,
                    format!("{host} did not answer in time"),
                )
            } else if refused_by_resolver(&e) {
                refused(
                    param,
                    format!("{host} resolves to no public address; fetching it is not allowed"),
                )
            } else {
                Error::new(
                    ErrorKind::Upstream,
                    format!("cannot fetch from {host}: {e}"),
                )
            }
        })?;
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let location = header(reqwest::header::LOCATION);
        let mut body = Vec::new();
        let mut truncated = false;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Error::new(
                    ErrorKind::Upstream,
                    format!("reading from {host} failed: {e}"),
                )
            })?;
            let room = self.config.max_bytes - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            content_type,
            location,
            body,
            truncated,
        })
    }
}

/// Whether a request failed because [`PublicOnly`] refused every address of its host.
fn refused_by_resolver(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<NoPublicAddress>() {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad} passed");
        }
        for good in ["1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"] {
            assert!(is_public(good.parse().unwrap()), "{good} refused");
        }
    }
}
