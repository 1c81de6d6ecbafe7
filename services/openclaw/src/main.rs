//! `openclaw`: one binary for the API (`serve`), the worker, migrations and the operator CLI.
//! main only parses arguments, sets up logging and hands off to the subcommand.

mod cli;
mod commands;
mod telemetry;

use clap::Parser;

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
