//! Alias resolution by digest, computed once per catalog (behaviour.md §3.2, §3.3 with
//! decisions.md §5 fix 5).
//!
//! Tags sharing a digest form a group. The group's primary is its first non-alias tag in
//! collection order (kinds in display order, then descending), so the answer does not depend
//! on the registry's listing order; every alias or unknown tag of the group resolves to it:
//! it becomes an alias, takes the primary's cycle, its architecture and date when it has
//! none, and a display name that names the primary ("Recommended (Weekly 2077_43)"). A group
//! of aliases and unknown tags only stays unresolved. Every member lists the group's other
//! tags as aliases (a resolved alias without its target, which it names separately).

use super::image::Image;
use crate::tag::title_case;
use std::sync::{Arc, OnceLock};

/// What an alias takes from the image it resolves to.
struct Target {
    name: String,
    cycle: Option<crate::tag::OwnedNumber>,
    architecture: Option<Box<str>>,
    date: Option<chrono::NaiveDate>,
    display_name: String,
}

/// Resolves every group; `groups` lists image indices per digest, in collection order.
pub(super) fn resolve<'a>(images: &mut [Image], groups: impl Iterator<Item = &'a [u32]>) {
    for group in groups.filter(|g| g.len() > 1) {
        let mut names: Vec<Box<str>> = group
            .iter()
            .map(|&i| Box::from(images[i as usize].name()))
            .collect();
        names.sort_unstable();
        names.dedup();
        let names: Arc<[Box<str>]> = names.into();
        for &i in group {
            images[i as usize].group_names = Arc::clone(&names);
        }
        let Some(&primary) = group
            .iter()
            .find(|&&i| !images[i as usize].is_possible_alias())
        else {
            continue;
        };
        let p = &images[primary as usize];
        let target = Target {
            name: p.name().to_string(),
            cycle: p.cycle.clone(),
            architecture: p.architecture().map(Box::from),
            date: p.date,
            display_name: p.display_name().to_owned(),
        };
        for &i in group {
            let image = &mut images[i as usize];
            if image.is_possible_alias() {
                resolve_alias(image, &target);
            }
        }
    }
}

fn resolve_alias(image: &mut Image, target: &Target) {
    image.kind = crate::tag::TagKind::Alias;
    image.alias_target = Some(target.name.clone());
    image.cycle = target.cycle.clone();
    if image.tag.architecture().is_none() {
        image.inherited_architecture = target.architecture.clone();
    }
    if image.date.is_none() {
        image.date = target.date;
    }
    image.display_name =
        OnceLock::from(alias_display_name(image, &target.display_name).into_boxed_str());
}

/// "{Base} ({target name, parentheses flattened})" plus the alias's architecture, e.g.
/// "Latest (Release r21.0.2, RSP Build 64 [stuff]) [amd64]".
fn alias_display_name(image: &Image, target_name: &str) -> String {
    let base = image
        .tag
        .base()
        .filter(|b| !b.is_empty())
        .unwrap_or(image.name());
    let mut inner = if target_name.contains(" (") {
        target_name.replace(" (", ", ").replace(')', "")
    } else {
        target_name.to_string()
    };
    let arch = image.architecture();
    if let Some(arch) = arch {
        inner = inner.replace(&format!(" [{arch}]"), "");
    }
    let mut name = format!("{} ({inner})", title_case(&base.replace('_', " ")));
    if let Some(arch) = arch {
        name.push_str(&format!(" [{arch}]"));
    }
    name
}
