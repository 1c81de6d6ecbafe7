//! `openclaw`: one binary for the API (`serve`), the worker, migrations and the operator CLI.
//! main only parses arguments, sets up logging and hands off to the subcommand.

mod cli;
mod commands;
mod telemetry;

use clap::Parser;

// glibc's malloc showed in the profile of a completion (about 7 % of the replica's CPU, and
// its arenas fragment under many small, short-lived allocations); mimalloc is the usual cure.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    telemetry::init(&cli.log_format);
    match commands::run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
