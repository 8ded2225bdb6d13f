//! The `rsp-images` command line: `serve`, `tags`, `plan` and `snapshot`.
//!
//! `main` only parses arguments and maps failures to exit statuses; each subcommand lives in
//! its own module under `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
