//! A fake model provider (OpenAI chat-completions and Anthropic Messages wire formats), scripted
//! per request, for tests, demos and benchmarks; built to cost almost nothing next to a gateway.
//!
//! ```no_run
//! # async fn demo() {
//! use openclaw_mock_llm::{MockLlm, Script};
//!
//! let mock = MockLlm::start().await;
//! mock.push(Script { status: Some(429), retry_after_secs: Some(1), ..Script::default() });
//! let openai_base_url = format!("{}/v1", mock.base_url());
//! # let _ = openai_base_url;
//! mock.stop().await;
//! # }
//! ```

mod anthropic;
pub mod embeddings;
mod openai;
mod reply;
mod request;
mod script;
mod server;
mod sse;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use script::{Options, RecordedRequest, Script, ToolCall, Usage, THINKING_SIGNATURE};
use server::Shared;

/// A running mock provider, served in-process on the caller's tokio runtime.
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Taken by [`MockLlm::stop`]; `Drop` only signals the shutdown.
    task: Option<JoinHandle<()>>,
}

impl MockLlm {
    /// Starts on 127.0.0.1 with a random port, with default [`Options`].
    pub async fn start() -> MockLlm {
        Self::start_with(Options::default()).await
    }

    /// Starts with `options`; panics if the address cannot be bound (see
    /// [`MockLlm::try_start_with`]).
    pub async fn start_with(options: Options) -> MockLlm {
        let (bind, port) = (options.bind, options.port);
        Self::try_start_with(options)
            .await
            .unwrap_or_else(|err| panic!("mock-llm: cannot listen on {bind}:{port}: {err}"))
    }

    /// Starts with `options`, reporting a bind failure instead of panicking.
    pub async fn try_start_with(options: Options) -> io::Result<MockLlm> {
        let listener = TcpListener::bind((options.bind, options.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(options));
        let app = server::router(Arc::clone(&shared));
        // Without TCP_NODELAY, small SSE frames wait on Nagle and delayed ACKs, which measured
        // ten times slower through a proxy.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let shutdown = shared.shutdown.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            // axum's serve future never resolves to an error: accept errors are retried inside.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Ok(MockLlm {
            addr,
            shared,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`. OpenAI-compatible clients use `format!("{}/v1", base_url())` as their
    /// base URL; Anthropic clients use `base_url()` and `POST /v1/messages`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a script: the next request (of either format) without an `x-mock-script` header
    /// consumes it. FIFO; with the queue empty, requests get the default echo.
    pub fn push(&self, script: Script) {
        self.shared.push(script);
    }

    /// Every request received on the chat and messages endpoints so far, oldest first (none
    /// when [`Options::record_requests`] is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Stops accepting, cuts hung requests and unfinished streams, and waits for the server to
    /// finish. Dropping the handle stops it too, without waiting.
    pub async fn stop(mut self) {
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            if let Err(err) = task.await {
                if err.is_panic() {
                    std::panic::resume_unwind(err.into_panic());
                }
            }
        }
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl fmt::Debug for MockLlm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockLlm").field("addr", &self.addr).finish()
    }
}
