//! A WebSocket client for tests: connect with or without credentials, send JSON frames, read
//! JSON events (skipping heartbeats) with a deadline, and see how the server closed.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::TestApp;

/// How long a read waits before the test fails.
const READ_DEADLINE: Duration = Duration::from_secs(20);

/// The HTTP answer to a refused upgrade.
pub type Refusal = tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>;

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a connection attempt or a connection ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    /// The server closed with this code and reason.
    Closed(u16, String),
    /// The stream ended without a close frame.
    Gone,
}

impl TestApp {
    /// `ws://…{path}` of this app.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Connects to `path` with `bearer` (if any) in `Authorization`; the upgrade's HTTP status
    /// and body when refused.
    pub async fn ws_connect(
        &self,
        path: &str,
        bearer: Option<&str>,
    ) -> Result<WsClient, (u16, String)> {
        self.ws_upgrade(path, bearer).await.map_err(|resp| {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (resp.status().as_u16(), body)
        })
    }

    /// As [`TestApp::ws_connect`], with the whole HTTP response of a refused upgrade.
    pub async fn ws_upgrade(&self, path: &str, bearer: Option<&str>) -> Result<WsClient, Refusal> {
        let mut req = self.ws_url(path).into_client_request().unwrap();
        if let Some(token) = bearer {
            req.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((stream, _)) => Ok(WsClient { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(*resp),
            Err(e) => panic!("WebSocket connect failed: {e}"),
        }
    }

    /// Connects and reads the `connected` event; panics if refused.
    pub async fn ws(&self, path: &str, bearer: Option<&str>) -> WsClient {
        let mut ws = self
            .ws_connect(path, bearer)
            .await
            .unwrap_or_else(|(status, body)| panic!("upgrade refused: {status} {body}"));
        let hello = ws.next_event().await;
        assert_eq!(hello["type"], "connected", "{hello}");
        ws
    }
}

impl WsClient {
    pub async fn send(&mut self, frame: &Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send a frame");
    }

    /// The next JSON event other than a heartbeat; panics on a close or after the deadline.
    pub async fn next_event(&mut self) -> Value {
        match self.next_or_end().await {
            Ok(v) => v,
            Err(end) => panic!("the connection ended: {end:?}"),
        }
    }

    /// The next JSON event other than a heartbeat, or how the connection ended.
    pub async fn next_or_end(&mut self) -> Result<Value, Ended> {
        loop {
            let frame = tokio::time::timeout(READ_DEADLINE, self.stream.next())
                .await
                .expect("no frame within the deadline");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("a JSON event");
                    if v["type"] != "heartbeat" {
                        return Ok(v);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(match frame {
                        Some(f) => Ended::Closed(f.code.into(), f.reason.to_string()),
                        None => Ended::Closed(1005, String::new()),
                    })
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Err(Ended::Gone),
            }
        }
    }

    /// Reads events until one of type `kind` (for request `id`, when given), returning it and
    /// the events before it.
    pub async fn until(&mut self, kind: &str, id: Option<&Value>) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let e = self.next_event().await;
            if e["type"] == kind && id.is_none_or(|id| &e["id"] == id) {
                return (e, before);
            }
            before.push(e);
        }
    }

    /// Sends request `{method, params, id}` and returns the answer to it (skipping other
    /// requests' events): the event named after the method, or an error.
    pub async fn request(&mut self, method: &str, params: Value, id: u64) -> Value {
        self.send(&serde_json::json!({"method": method, "params": params, "id": id}))
            .await;
        loop {
            let e = self.next_event().await;
            if e["id"] == id && (e["type"] == method || e["type"] == "error") {
                return e;
            }
        }
    }

    /// Waits for the server to end the connection and says how.
    pub async fn ended(&mut self) -> Ended {
        loop {
            match self.next_or_end().await {
                Ok(_) => continue,
                Err(end) => return end,
            }
        }
    }
}
