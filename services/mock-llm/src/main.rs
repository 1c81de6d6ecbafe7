//! `mock-llm`: the mock provider as a standalone server, for demos, benchmarks and tests not
//! written in Rust.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use openclaw_mock_llm::{MockLlm, Options};

/// A fake OpenAI / Anthropic model provider. Script answers with `POST /_mock/scripts` or an
/// `x-mock-script` header; read what it received with `GET /_mock/requests`.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "MOCK_LLM_PORT", default_value_t = 8000)]
    port: u16,
    #[arg(long, env = "MOCK_LLM_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Delay before every response's headers.
    #[arg(long, env = "MOCK_LLM_DELAY_MS", default_value_t = 0)]
    delay_ms: u64,
    /// Streaming: delay before the first event.
    #[arg(long, env = "MOCK_LLM_TTFT_MS", default_value_t = 0)]
    ttft_ms: u64,
    /// Streaming: delay between content chunks.
    #[arg(long, env = "MOCK_LLM_TOKEN_DELAY_MS", default_value_t = 0)]
    token_delay_ms: u64,
    /// Streaming: split each reply into this many chunks (default: one per word).
    #[arg(long, env = "MOCK_LLM_CHUNKS")]
    chunks: Option<usize>,
    /// Streaming: make each reply chunk the Unix time in microseconds at which it is sent
    /// (then a space), one per word of the reply, for measuring latency behind a gateway.
    #[arg(long, env = "MOCK_LLM_TIMESTAMP_CHUNKS")]
    timestamp_chunks: bool,
    /// Do not keep received requests (for benchmarks).
    #[arg(long, env = "MOCK_LLM_NO_RECORD")]
    no_record: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = Options {
        port: args.port,
        bind: args.bind,
        delay_ms: args.delay_ms,
        ttft_ms: args.ttft_ms,
        token_delay_ms: args.token_delay_ms,
        chunks: args.chunks,
        timestamp_chunks: args.timestamp_chunks,
        record_requests: !args.no_record,
    };
    let server = match MockLlm::try_start_with(options).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!(
                "mock-llm: cannot listen on {}:{}: {err}",
                args.bind, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    println!("mock-llm listening on {}", server.base_url());
    if let Err(err) = shutdown_signal().await {
        eprintln!("mock-llm: cannot wait for a shutdown signal: {err}");
        return ExitCode::FAILURE;
    }
    server.stop().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
