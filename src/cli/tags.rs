//! `rsp-images tags parse|sort|subset|filter`: the tag model on the command line.
//!
//! Tags come from the arguments, or from standard input one per line when there are none (an
//! empty line is the empty tag, which parses as `latest`). Output goes to standard output, one
//! JSON object (`parse`) or one tag name (the others) per line.

use super::CliError;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use rsp_model::collection::{ArchSpecific, FilterSide, SubsetSpec, TagCollection};
use rsp_model::filter::ImageFilterPolicy;
use rsp_model::Tag;
use std::collections::HashSet;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum TagsCommand {
    /// Parse tags and print one JSON object per tag.
    Parse {
        /// Build the tags with the alias constructor.
        #[arg(long)]
        as_alias: bool,
        /// Tags to parse (default: one per line on standard input).
        tags: Vec<String>,
    },
    /// Print tags in collection order: kinds in display order, each newest first.
    Sort {
        #[command(flatten)]
        collection: CollectionArgs,
        /// Do not hide arch-specific tags.
        #[arg(long)]
        all_arch: bool,
        /// Tags (default: one per line on standard input).
        tags: Vec<String>,
    },
    /// Print the subset of tags that would be prepulled, in collection order.
    Subset {
        #[command(flatten)]
        collection: CollectionArgs,
        /// Number of newest releases to keep.
        #[arg(long, value_name = "N")]
        releases: usize,
        /// Number of newest weeklies to keep.
        #[arg(long, value_name = "N")]
        weeklies: usize,
        /// Number of newest dailies to keep.
        #[arg(long, value_name = "N")]
        dailies: usize,
        /// A tag to keep whatever its kind (repeatable).
        #[arg(long, value_name = "T")]
        include: Vec<String>,
        /// Count arch-specific tags too.
        #[arg(long)]
        all_arch: bool,
        /// Tags (default: one per line on standard input).
        tags: Vec<String>,
    },
    /// Print the tags accepted (or, inverted, rejected) by a filter policy.
    Filter {
        #[command(flatten)]
        collection: CollectionArgs,
        /// ImageFilterPolicy file, YAML or JSON with camelCase keys.
        #[arg(long, value_name = "F")]
        policy: PathBuf,
        /// The time ages are measured from (RFC 3339; default: now).
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Print the rejected tags instead.
        #[arg(long)]
        invert: bool,
        /// Do not remove arch-specific tags.
        #[arg(long)]
        all_arch: bool,
        /// Tags (default: one per line on standard input).
        tags: Vec<String>,
    },
}

/// How the tags are collected: which names are aliases, and the cycle to keep.
#[derive(Args)]
pub struct CollectionArgs {
    /// A tag to build with the alias constructor (repeatable).
    #[arg(long, value_name = "T")]
    alias: Vec<String>,
    /// Keep only tags of this SAL cycle.
    #[arg(long, value_name = "N")]
    cycle: Option<u32>,
}

impl CollectionArgs {
    /// The collection, kept until the process exits, which it does right after printing:
    /// freeing 18,000 tags one by one would cost about 3 M instructions, a fifteenth of the
    /// whole `tags sort`, for memory that the exit returns at once.
    fn collect(self, tags: Vec<String>) -> Result<&'static TagCollection, CliError> {
        let aliases: HashSet<String> = self.alias.into_iter().collect();
        let input = Input::read(tags)?;
        Ok(Box::leak(Box::new(TagCollection::from_tag_names(
            input.names(),
            &aliases,
            self.cycle,
        ))))
    }
}

pub fn run(command: TagsCommand) -> Result<(), CliError> {
    match command {
        TagsCommand::Parse { as_alias, tags } => {
            let input = Input::read(tags)?;
            let lines = input.names().map(|name| {
                let tag = if as_alias {
                    Tag::alias(name)
                } else {
                    Tag::parse(name)
                };
                serde_json::to_string(&tag).unwrap_or_default()
            });
            print_lines(lines)
        }
        TagsCommand::Sort {
            collection,
            all_arch,
            tags,
        } => {
            let collection = collection.collect(tags)?;
            print_lines(collection.all_tags(arch_specific(all_arch)).map(Tag::tag))
        }
        TagsCommand::Subset {
            collection,
            releases,
            weeklies,
            dailies,
            include,
            all_arch,
            tags,
        } => {
            let collection = collection.collect(tags)?;
            let spec = SubsetSpec {
                releases,
                weeklies,
                dailies,
                include,
                remove_arch_specific: !all_arch,
            };
            print_lines(
                collection
                    .subset(&spec)
                    .all_tags(ArchSpecific::Keep)
                    .map(Tag::tag),
            )
        }
        TagsCommand::Filter {
            collection,
            policy,
            now,
            invert,
            all_arch,
            tags,
        } => {
            let policy = read_policy(&policy)?;
            let now = match now {
                Some(text) => DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| CliError::Usage(format!("--now {text:?} is not an RFC 3339 time ({e}); write e.g. 2025-02-19T17:00:00Z")))?,
                None => Utc::now(),
            };
            let collection = collection.collect(tags)?;
            let side = if invert {
                FilterSide::Rejected
            } else {
                FilterSide::Accepted
            };
            print_lines(
                collection
                    .filter(&policy, now, side, arch_specific(all_arch))
                    .into_iter()
                    .map(Tag::tag),
            )
        }
    }
}

/// The tags: the arguments, or standard input one tag per line when there are none. Lines
/// are handed out as slices of the text read, not copied one by one (18,000 allocations for
/// a registry's worth of tags, more than parsing them costs).
struct Input {
    args: Vec<String>,
    stdin: String,
}

impl Input {
    fn read(args: Vec<String>) -> Result<Input, CliError> {
        let mut stdin = String::new();
        if args.is_empty() {
            std::io::stdin().read_to_string(&mut stdin).map_err(|e| {
                CliError::Failed(format!("cannot read tags from standard input: {e}"))
            })?;
        }
        Ok(Input { args, stdin })
    }

    /// Each argument, or each line of standard input (one of the two is empty).
    fn names(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .map(String::as_str)
            .chain(self.stdin.lines())
    }
}

fn read_policy(path: &Path) -> Result<ImageFilterPolicy, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the policy file {}: {e}",
            path.display()
        ))
    })?;
    // JSON is tried first for `.json` files so that its error messages are the JSON ones.
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        rsp_config::check_nesting(&text)
            .map_err(|e| e.to_string())
            .and_then(|()| serde_yaml::from_str(&text).map_err(|e| e.to_string()))
    };
    parsed.map_err(|e| CliError::Usage(format!("invalid policy file {}: {e}", path.display())))
}

fn print_lines<S: AsRef<str>>(lines: impl Iterator<Item = S>) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let failed =
        |e: std::io::Error| CliError::Failed(format!("cannot write to standard output: {e}"));
    for line in lines {
        out.write_all(line.as_ref().as_bytes()).map_err(failed)?;
        out.write_all(b"\n").map_err(failed)?;
    }
    out.flush().map_err(failed)
}

/// `--all-arch` as the model's option: arch-specific tags are hidden unless it is given.
fn arch_specific(all_arch: bool) -> ArchSpecific {
    if all_arch {
        ArchSpecific::Keep
    } else {
        ArchSpecific::Hide
    }
}
