//! Reading Server-Sent Events in tests: whole streams, or frame by frame from a live response.

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// Parses complete frames off the front of `buf`, leaving a partial one in it.
fn drain_frames(buf: &mut String) -> Vec<SseEvent> {
    let mut out = Vec::new();
    while let Some(end) = buf.find("\n\n") {
        let frame: String = buf.drain(..end + 2).collect();
        let mut ev = SseEvent::default();
        let mut data = Vec::new();
        let mut any = false;
        for line in frame.lines() {
            if line.starts_with(':') || line.is_empty() {
                continue; // comments: heartbeats
            }
            let (field, value) = line
                .split_once(':')
                .map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)))
                .unwrap_or((line, ""));
            any = true;
            match field {
                "id" => ev.id = Some(value.to_string()),
                "event" => ev.event = Some(value.to_string()),
                "data" => data.push(value.to_string()),
                _ => {}
            }
        }
        if any {
            ev.data = data.join("\n");
            out.push(ev);
        }
    }
    out
}

/// Reads a whole SSE response.
pub async fn read_all(resp: reqwest::Response) -> Vec<SseEvent> {
    let text = resp.text().await.unwrap();
    let mut buf = text.replace("\r\n", "\n");
    drain_frames(&mut buf)
}

/// Reads a live SSE response frame by frame.
pub struct SseReader {
    resp: reqwest::Response,
    buf: String,
    ready: std::collections::VecDeque<SseEvent>,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        SseReader {
            resp,
            buf: String::new(),
            ready: Default::default(),
        }
    }

    /// The next event, or `None` at the end of the stream.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            let chunk = self.resp.chunk().await.ok()??;
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
            self.ready.extend(drain_frames(&mut self.buf));
        }
    }

    /// Reads the stream to its end and returns its last event.
    pub async fn last(&mut self) -> Option<SseEvent> {
        let mut last = None;
        while let Some(e) = self.next().await {
            last = Some(e);
        }
        last
    }
}
