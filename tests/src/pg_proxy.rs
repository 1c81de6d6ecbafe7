//! A TCP proxy for the Postgres wire protocol (v3) that counts synchronous round trips (each
//! `Sync` and simple `Query`) and their SQL, so tests can fail when a change adds a round trip;
//! and can be severed (every connection cut, new ones refused) to stand for a database outage.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const SSL_REQUEST: u32 = 80877103;
const GSSENC_REQUEST: u32 = 80877104;

/// What a `Sync` with no Parse/Bind/Close before it (sqlx's ping) is recorded as.
pub const SYNC_ONLY: &str = "<sync>";

/// One entry per round trip, shared by every connection of one proxy.
type Log = Arc<Mutex<Vec<String>>>;

/// A Postgres proxy on 127.0.0.1 that records every round trip its clients make.
pub struct PgProxy {
    port: u16,
    log: Log,
    accept: JoinHandle<()>,
    /// `true` while severed; every change wakes the relays, which end when it is `true`.
    down: tokio::sync::watch::Sender<bool>,
}

impl PgProxy {
    /// Listens on 127.0.0.1 (port chosen by the OS) and relays each connection to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: &str) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Postgres proxy");
        let port = listener.local_addr().unwrap().port();
        let log = Log::default();
        let upstream = upstream.to_string();
        let shared = log.clone();
        let (down, watching) = tokio::sync::watch::channel(false);
        let accept = tokio::spawn(async move {
            // Connections live in the accept task's JoinSet: aborting that task (on Drop) drops
            // the set, which aborts every connection with it.
            let mut conns = JoinSet::new();
            loop {
                let client = match listener.accept().await {
                    Ok((client, _)) => client,
                    Err(_) => {
                        // Transient (e.g. out of file descriptors): don't spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                while conns.try_join_next().is_some() {}
                if *watching.borrow() {
                    // Severed: the connection is refused as a stopped server would.
                    drop(client);
                    continue;
                }
                let mut cut = watching.clone();
                let relayed = relay(client, upstream.clone(), shared.clone());
                conns.spawn(async move {
                    tokio::select! {
                        r = relayed => r,
                        _ = cut.wait_for(|down| *down) => Ok(()),
                    }
                });
            }
        });
        PgProxy {
            port,
            log,
            accept,
            down,
        }
    }

    /// Cuts every connection and refuses new ones, until [`PgProxy::restore`].
    pub fn sever(&self) {
        self.down.send_replace(true);
    }

    pub fn restore(&self) {
        self.down.send_replace(false);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `database_url` (`postgres://user@host:port/db?…`) pointed at this proxy; user, password,
    /// database and query are kept.
    pub fn url_for(&self, database_url: &str) -> String {
        let (scheme, rest) = database_url
            .split_once("://")
            .unwrap_or_else(|| panic!("not a URL: {database_url}"));
        // A valid URL percent-encodes '/' and '?' inside the user info, so the first of them
        // ends the authority.
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if let Some((_, query)) = tail.split_once('?') {
            // These would send the client around the proxy, and nothing would be counted.
            let bypass = query.split('&').any(|kv| {
                ["host=", "hostaddr=", "port="]
                    .iter()
                    .any(|k| kv.starts_with(k))
            });
            assert!(
                !bypass,
                "{database_url}: host/port in the query string would bypass the proxy"
            );
        }
        match authority.rsplit_once('@') {
            Some((user, _)) => format!("{scheme}://{user}@127.0.0.1:{}{tail}", self.port),
            None => format!("{scheme}://127.0.0.1:{}{tail}", self.port),
        }
    }

    /// Round trips since the start or the last `reset`, all connections together.
    pub fn round_trips(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The SQL of each round trip, in order; several statements in one round trip are joined
    /// with "; ", and a bare `Sync` is [`SYNC_ONLY`].
    pub fn statements(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn reset(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// `host:port` of a Postgres URL (port 5432 when absent): what [`PgProxy::start`] takes.
pub fn upstream_of(database_url: &str) -> String {
    let rest = database_url
        .split_once("://")
        .map_or(database_url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    assert!(
        !host_port.is_empty(),
        "{database_url}: no host (a Unix socket cannot be proxied)"
    );
    // "[::1]" has a colon but no port; a port follows the last ']' if any.
    let after_host = host_port.rsplit_once(']').map_or(host_port, |(_, p)| p);
    if after_host.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    }
}

/// One client connection: the untyped opening messages, then both directions pumped.
async fn relay(mut client: TcpStream, upstream: String, log: Log) -> io::Result<()> {
    let mut server = TcpStream::connect(&upstream).await?;
    // Messages are small and answered one batch at a time: Nagle would delay them.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let mut frontend = Frontend::new(log);

    // Every untyped message starts with int32 length (itself included) and an int32 code.
    loop {
        let mut head = [0u8; 8];
        client.read_exact(&mut head).await?;
        server.write_all(&head).await?;
        let len = u32::from_be_bytes(head[..4].try_into().unwrap());
        let code = u32::from_be_bytes(head[4..].try_into().unwrap());
        if len == 8 && (code == SSL_REQUEST || code == GSSENC_REQUEST) {
            // The server answers with one byte; 'N' means "no", and the client goes on (maybe
            // with the other request, or the StartupMessage).
            let mut answer = [0u8; 1];
            server.read_exact(&mut answer).await?;
            client.write_all(&answer).await?;
            if matches!(answer[0], b'S' | b'G') {
                // Encrypted from here on: nothing to parse.
                frontend.state = State::Raw;
                break;
            }
            continue;
        }
        // StartupMessage (or CancelRequest): skip the rest of it; typed messages follow.
        frontend.state = State::Body {
            kind: 0,
            left: (len as usize).saturating_sub(8),
            keep: Vec::new(),
            cap: 0,
        };
        break;
    }

    let (client_r, mut client_w) = client.into_split();
    let (mut server_r, server_w) = server.into_split();
    let upward = pump_parsed(client_r, server_w, frontend);
    let downward = async {
        tokio::io::copy(&mut server_r, &mut client_w).await?;
        client_w.shutdown().await
    };
    tokio::try_join!(upward, downward).map(|_| ())
}

/// Client to server: each chunk is forwarded as soon as it is read, right after parsing it.
async fn pump_parsed(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut frontend: Frontend,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        // Parse before forwarding, so a round trip is logged before the server can answer it:
        // a test that reads the counters right after its query returns sees it. Parsing a chunk
        // takes microseconds.
        frontend.feed(&buf[..n]);
        to.write_all(&buf[..n]).await?;
    }
}

enum State {
    /// Reading the 1-byte type and int32 length of a typed message.
    Header { buf: [u8; 5], have: usize },
    /// Inside a message body: `left` bytes to go, the first `cap` of them kept in `keep`.
    /// `kind` 0 is the rest of the StartupMessage.
    Body {
        kind: u8,
        left: usize,
        keep: Vec<u8>,
        cap: usize,
    },
    /// Not parsing (encrypted, or a framing we don't understand): bytes are only relayed.
    Raw,
}

impl State {
    fn header() -> State {
        State::Header {
            buf: [0; 5],
            have: 0,
        }
    }
}

/// The frontend (client→server) parser of one connection, and what it records.
struct Frontend {
    state: State,
    log: Log,
    /// Statement name → SQL, from this connection's Parse messages (names are per connection).
    prepared: HashMap<String, String>,
    /// SQL of the current extended-protocol batch (since the last Sync).
    batch: Vec<String>,
    /// Statements parsed in the current batch: a Bind of one of them adds no text.
    parsed_in_batch: Vec<String>,
}

impl Frontend {
    fn new(log: Log) -> Frontend {
        Frontend {
            state: State::header(),
            log,
            prepared: HashMap::new(),
            batch: Vec::new(),
            parsed_in_batch: Vec::new(),
        }
    }

    /// Advances over `data`, which may end anywhere (mid-header, mid-body).
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.state {
                State::Raw => return,
                State::Header { buf, have } => {
                    let take = (5 - *have).min(data.len());
                    buf[*have..*have + take].copy_from_slice(&data[..take]);
                    *have += take;
                    data = &data[take..];
                    if *have < 5 {
                        continue;
                    }
                    let kind = buf[0];
                    let len = i32::from_be_bytes(buf[1..].try_into().unwrap());
                    if len < 4 {
                        // Not a frame we understand: relay the rest without counting.
                        self.state = State::Raw;
                        return;
                    }
                    let cap = match kind {
                        b'Q' | b'P' => usize::MAX,
                        // Only the leading names matter, not Bind's parameters.
                        b'B' | b'C' => 1024,
                        _ => 0,
                    };
                    let left = len as usize - 4;
                    self.state = State::Body {
                        kind,
                        left,
                        keep: Vec::with_capacity(left.min(cap).min(8192)),
                        cap,
                    };
                    if left == 0 {
                        self.finish();
                    }
                }
                State::Body {
                    left, keep, cap, ..
                } => {
                    let take = (*left).min(data.len());
                    let kept = take.min(cap.saturating_sub(keep.len()));
                    keep.extend_from_slice(&data[..kept]);
                    *left -= take;
                    data = &data[take..];
                    if *left == 0 {
                        self.finish();
                    }
                }
            }
        }
    }

    /// A whole message has been read.
    fn finish(&mut self) {
        let State::Body { kind, keep, .. } = std::mem::replace(&mut self.state, State::header())
        else {
            unreachable!("finish is called at the end of a body")
        };
        let mut fields = keep.split(|b| *b == 0).map(String::from_utf8_lossy);
        let mut next = || fields.next().unwrap_or_default().into_owned();
        match kind {
            b'Q' => self.log.lock().unwrap().push(next()),
            b'P' => {
                let (name, sql) = (next(), next());
                self.batch.push(sql.clone());
                self.parsed_in_batch.push(name.clone());
                self.prepared.insert(name, sql);
            }
            b'B' => {
                let (_portal, name) = (next(), next());
                if !self.parsed_in_batch.contains(&name) {
                    let sql = self.prepared.get(&name).cloned();
                    self.batch
                        .push(sql.unwrap_or_else(|| format!("<unknown statement {name:?}>")));
                }
            }
            // Close of a statement (not a portal: sqlx closes the unnamed portal every time),
            // as when sqlx evicts one from its cache: its own round trip, worth naming.
            b'C' if keep.first() == Some(&b'S') => {
                let name = String::from_utf8_lossy(&keep[1..])
                    .trim_end_matches('\0')
                    .to_string();
                self.prepared.remove(&name);
                self.batch.push(format!("<close {name:?}>"));
            }
            b'S' => {
                let text = if self.batch.is_empty() {
                    SYNC_ONLY.to_string()
                } else {
                    self.batch.join("; ")
                };
                self.batch.clear();
                self.parsed_in_batch.clear();
                self.log.lock().unwrap().push(text);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgPoolOptions;
    use sqlx::{PgPool, Row};

    fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn cstrings(parts: &[&str]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|p| p.bytes().chain(std::iter::once(0)))
            .collect()
    }

    #[test]
    fn parser_handles_messages_split_anywhere() {
        let mut stream = Vec::new();
        stream.extend(frame(b'S', &[])); // a ping
        let mut parse = cstrings(&["s1", "SELECT $1"]);
        parse.extend_from_slice(&[0, 0]);
        stream.extend(frame(b'P', &parse));
        stream.extend(frame(b'D', b"Ss1\0"));
        stream.extend(frame(b'S', &[]));
        let mut bind = cstrings(&["", "s1"]);
        bind.extend_from_slice(&[0; 300]); // stands in for formats and parameters
        stream.extend(frame(b'B', &bind));
        stream.extend(frame(b'E', b"\0\0\0\0\0"));
        stream.extend(frame(b'C', b"P\0"));
        stream.extend(frame(b'S', &[]));
        stream.extend(frame(b'Q', &cstrings(&["BEGIN"])));
        let want = ["<sync>", "SELECT $1", "SELECT $1", "BEGIN"];
        // Every chunk size, from byte-at-a-time to all at once.
        for chunk in 1..=stream.len() {
            let log = Log::default();
            let mut f = Frontend::new(log.clone());
            for part in stream.chunks(chunk) {
                f.feed(part);
            }
            assert_eq!(*log.lock().unwrap(), want, "chunk size {chunk}");
        }
    }

    #[tokio::test]
    async fn url_rewriting() {
        let p = PgProxy::start("127.0.0.1:1").await;
        let port = p.port();
        assert_eq!(
            p.url_for("postgres://postgres@127.0.0.1:5432/db?sslmode=disable"),
            format!("postgres://postgres@127.0.0.1:{port}/db?sslmode=disable")
        );
        assert_eq!(
            p.url_for("postgresql://u:p%40ss@db.example:6543/x"),
            format!("postgresql://u:p%40ss@127.0.0.1:{port}/x")
        );
        assert_eq!(
            p.url_for("postgres://localhost"),
            format!("postgres://127.0.0.1:{port}")
        );
        assert_eq!(upstream_of("postgres://u@h:6543/db?x=1"), "h:6543");
        assert_eq!(upstream_of("postgres://u@h/db"), "h:5432");
        assert_eq!(upstream_of("postgres://[::1]/db"), "[::1]:5432");
        assert_eq!(upstream_of("postgres://[::1]:7/db"), "[::1]:7");
    }

    /// Waits until the pool's one connection is back: sqlx returns a connection from a spawned
    /// task, after a ping, so the counters settle only then.
    async fn settle(pool: &PgPool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while pool.num_idle() != 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the pool's connection did not come back"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Round trips other than bare `Sync`s (sqlx pings each connection it takes back).
    fn sql_trips(proxy: &PgProxy) -> Vec<String> {
        proxy
            .statements()
            .into_iter()
            .filter(|s| s != SYNC_ONLY)
            .collect()
    }

    #[tokio::test]
    async fn counts_sqlx_round_trips() {
        let database_url = crate::services::get().await.fresh_database().await;
        let proxy = PgProxy::start(&upstream_of(&database_url)).await;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect(&proxy.url_for(&database_url))
            .await
            .expect("connect through the proxy");
        settle(&pool).await;
        println!("connect: {:?}", proxy.statements());
        proxy.reset();

        let select = || async {
            let row = sqlx::query("SELECT $1::int")
                .bind(1)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(row.get::<i32, _>(0), 1);
            settle(&pool).await;
        };

        // First execution: Parse+Describe+Sync to prepare, then Bind+Execute+Close+Sync, then
        // the ping of the connection's return to the pool.
        select().await;
        println!("first prepared execution: {:?}", proxy.statements());
        assert_eq!(
            proxy.statements(),
            ["SELECT $1::int", "SELECT $1::int", SYNC_ONLY]
        );
        proxy.reset();

        // Cached statement: one round trip per execution (plus the return ping each).
        select().await;
        select().await;
        println!("two cached executions: {:?}", proxy.statements());
        assert_eq!(sql_trips(&proxy), ["SELECT $1::int", "SELECT $1::int"]);
        assert_eq!(proxy.round_trips(), 4, "{:?}", proxy.statements());
        proxy.reset();

        // Simple protocol: several statements, one Query message, one round trip.
        sqlx::raw_sql("SELECT 1; SELECT 2")
            .execute(&pool)
            .await
            .unwrap();
        settle(&pool).await;
        println!("raw_sql: {:?}", proxy.statements());
        assert_eq!(sql_trips(&proxy), ["SELECT 1; SELECT 2"]);
        assert_eq!(proxy.round_trips(), 2, "{:?}", proxy.statements());
        proxy.reset();

        // BEGIN, the (cached) query, COMMIT.
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SELECT $1::int")
            .bind(1)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        settle(&pool).await;
        println!("transaction: {:?}", proxy.statements());
        assert_eq!(sql_trips(&proxy), ["BEGIN", "SELECT $1::int", "COMMIT"]);
        assert_eq!(proxy.round_trips(), 4, "{:?}", proxy.statements());

        pool.close().await;
    }
}
