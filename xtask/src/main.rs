//! `cargo xtask`: the command-line entry point (see `cargo xtask --help`).

use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    let cli = xtask::Cli::parse();
    if let Err(error) = xtask::run(cli) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
