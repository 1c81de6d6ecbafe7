//! Server-sent events: frames serialised up front into one buffer, then streamed with the
//! scripted timing (time to first token, delay between content chunks, an abrupt cut).

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::reply::{Timing, EMITTED_AT};

/// A whole event stream written ahead of time; `frames` marks where each event ends and whether
/// it carries model output (what `chunks`, `token_delay_ms` and `disconnect_after_chunks` count).
#[derive(Default)]
pub(crate) struct Frames {
    buf: Vec<u8>,
    frames: Vec<Frame>,
}

#[derive(Clone, Copy)]
struct Frame {
    end: usize,
    content: bool,
}

impl Frames {
    pub fn push(&mut self, content: bool, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.buf);
        self.frames.push(Frame {
            end: self.buf.len(),
            content,
        });
    }

    /// The frame before which the stream is cut: the one after the `n`th content frame, or the
    /// terminal frame when there are fewer, so a cut stream never looks finished.
    fn cut_index(&self, n: usize) -> usize {
        self.frames
            .iter()
            .enumerate()
            .filter(|(_, frame)| frame.content)
            .nth(n)
            .map_or(self.frames.len().saturating_sub(1), |(i, _)| i)
    }
}

/// Writes `value` as JSON into an event being built.
pub(crate) fn write_json(buf: &mut Vec<u8>, value: &impl Serialize) {
    serde_json::to_writer(buf, value).expect("serialising to a Vec cannot fail");
}

/// Sleeps `ms`, or returns `false` early when the server shuts down.
pub(crate) async fn pause(ms: u64, shutdown: &CancellationToken) -> bool {
    if ms == 0 {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(ms)) => true,
        () = shutdown.cancelled() => false,
    }
}

/// A body whose first poll fails, which makes hyper drop the connection mid-response.
pub(crate) fn aborted_body() -> Body {
    Body::from_stream(futures::stream::once(async { Err::<Bytes, _>(aborted()) }))
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "mock-llm: connection cut")
}

struct Playback {
    bytes: Bytes,
    frames: Vec<Frame>,
    next: usize,
    sent_to: usize,
    content_sent: bool,
    cut_at: Option<usize>,
    timing: Timing,
    shutdown: CancellationToken,
}

/// Each frame is its own body chunk, so hyper writes and flushes it as soon as its delay is over.
pub(crate) fn body(
    frames: Frames,
    timing: Timing,
    disconnect_after_chunks: Option<usize>,
    shutdown: CancellationToken,
) -> Body {
    let playback = Playback {
        cut_at: disconnect_after_chunks.map(|n| frames.cut_index(n)),
        bytes: Bytes::from(frames.buf),
        frames: frames.frames,
        next: 0,
        sent_to: 0,
        content_sent: false,
        timing,
        shutdown,
    };
    Body::from_stream(futures::stream::unfold(playback, |mut p| async move {
        let frame = *p.frames.get(p.next)?;
        let wait = if p.next == 0 {
            p.timing.ttft_ms
        } else if frame.content && p.content_sent {
            p.timing.token_delay_ms
        } else {
            0
        };
        let cut = p.cut_at == Some(p.next);
        if cut {
            // Give hyper one turn to flush what was already sent: an error in the same turn
            // would discard its write buffer along with the connection.
            tokio::task::yield_now().await;
        }
        if cut || !pause(wait, &p.shutdown).await {
            p.next = p.frames.len();
            return Some((Err(aborted()), p));
        }
        p.content_sent |= frame.content;
        p.next += 1;
        let mut chunk = p.bytes.slice(p.sent_to..frame.end);
        p.sent_to = frame.end;
        if p.timing.timestamp_chunks && frame.content {
            chunk = stamp(&chunk, SystemTime::now());
        }
        Some((Ok(chunk), p))
    }))
}

/// `chunk` with its [`EMITTED_AT`] placeholder, if any, replaced by `now` in Unix microseconds.
fn stamp(chunk: &Bytes, now: SystemTime) -> Bytes {
    let marker = EMITTED_AT.as_bytes();
    let Some(at) = chunk.windows(marker.len()).position(|w| w == marker) else {
        return chunk.clone();
    };
    let micros = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let mut out = Vec::with_capacity(chunk.len());
    out.extend_from_slice(&chunk[..at]);
    out.extend_from_slice(micros.to_string().as_bytes());
    out.extend_from_slice(&chunk[at + marker.len()..]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(kinds: &[bool]) -> Frames {
        let mut frames = Frames::default();
        for &content in kinds {
            frames.push(content, |buf| buf.push(b'x'));
        }
        frames
    }

    #[test]
    fn stamping_writes_the_send_time_over_the_placeholder() {
        let at = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let chunk = Bytes::from(format!(r#"{{"content":"{EMITTED_AT} "}}"#));
        assert_eq!(stamp(&chunk, at), r#"{"content":"1700000000123456 "}"#);
        assert_eq!(stamp(&Bytes::from("plain"), at), "plain");
    }

    #[test]
    fn cut_lands_after_the_nth_content_frame_or_before_the_last() {
        let f = frames(&[false, true, true, true, false, false]);
        assert_eq!(f.cut_index(0), 1);
        assert_eq!(f.cut_index(2), 3);
        assert_eq!(f.cut_index(3), 5);
        assert_eq!(f.cut_index(9), 5);
    }
}
