//! The `cargo xtask` command line as a binary of the test package, started as a child process
//! by the kill-and-resume test (it must be killable without killing the test).

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
