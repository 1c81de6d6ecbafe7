//! Real processes for end-to-end tests: the `openclaw` binary, built if the test run has not.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Path of the `openclaw` binary of this build (next to the test executable's `deps/`),
/// brought up to date first: `cargo test -p openclaw-tests` alone does not rebuild other
/// packages' binaries, and a stale one would run old migrations against a new schema.
pub fn openclaw_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target profile dir")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-q", "-p", "openclaw"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo");
        assert!(status.success(), "building the openclaw binary failed");
        dir.join("openclaw")
    })
    .clone()
}

/// Runs `openclaw ARGS` with `env`, returning its output; panics with stderr on failure.
pub fn openclaw(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(openclaw_bin())
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("spawn openclaw");
    assert!(
        out.status.success(),
        "openclaw {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
