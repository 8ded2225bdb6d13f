//! `rsp-images tags parse|sort|subset|filter`: the tag model on the command line.

use super::CliError;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TagsCommand {
    /// Parse tags and print one JSON object per tag.
    Parse,
}

pub fn run(command: TagsCommand) -> Result<(), CliError> {
    match command {
        TagsCommand::Parse => Err(CliError::Failed("not implemented yet".into())),
    }
}
