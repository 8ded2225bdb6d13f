//! Filter policies (behaviour.md §2.4): which images of each kind a menu keeps.
//!
//! These are configuration types (the `dropdownMenu` key) as well as inputs of the filter
//! algorithm in `select.rs`. YAML and JSON keys are camelCase; snake_case spellings are
//! accepted too, unknown keys are refused so that typos do not silently keep everything.
//!
//! Departures from the original (decisions.md §5 fix 7): `number: 0` keeps none (the original
//! treated 0 as "no limit"), and `cutoffBuild: 0` compares like any other number.

use crate::tag::TagKind;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Criteria for the images of one kind; every criterion is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageFilter {
    /// Keep at most this many (after the other criteria), newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// Keep images whose date is at least `now - age`.
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub age: Option<Duration>,
    /// Keep images whose RSP build is at least this.
    #[serde(
        default,
        alias = "cutoff_build",
        skip_serializing_if = "Option::is_none"
    )]
    pub cutoff_build: Option<i64>,
    /// Keep images whose date is at least this (a date alone means midnight UTC).
    #[serde(
        default,
        alias = "cutoff_date",
        with = "cutoff_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub cutoff_date: Option<DateTime<Utc>>,
    /// Keep semantic images (releases, candidates) whose version is at least this.
    #[serde(
        default,
        alias = "cutoff_version",
        with = "cutoff_version",
        skip_serializing_if = "Option::is_none"
    )]
    pub cutoff_version: Option<semver::Version>,
}

/// One filter per filtered kind. Aliases and unknown tags are never filtered.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageFilterPolicy {
    #[serde(default)]
    pub release: ImageFilter,
    #[serde(default)]
    pub weekly: ImageFilter,
    #[serde(default)]
    pub daily: ImageFilter,
    #[serde(default, alias = "release_candidate")]
    pub release_candidate: ImageFilter,
    #[serde(default)]
    pub experimental: ImageFilter,
}

impl ImageFilterPolicy {
    /// The filter that applies to a kind, or `None` for kinds that are never filtered.
    pub fn for_kind(&self, kind: TagKind) -> Option<&ImageFilter> {
        match kind {
            TagKind::Alias | TagKind::Unknown => None,
            TagKind::Release => Some(&self.release),
            TagKind::Weekly => Some(&self.weekly),
            TagKind::Daily => Some(&self.daily),
            TagKind::Candidate => Some(&self.release_candidate),
            TagKind::Experimental => Some(&self.experimental),
        }
    }
}

/// Parses a cutoff date: RFC 3339, or `YYYY-MM-DD[( |T)HH:MM:SS[.f]]` taken as UTC.
pub fn parse_cutoff_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(text, format) {
            return Some(dt.and_utc());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

mod cutoff_date {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(dt) => {
                serializer.serialize_str(&dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            }
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        parse_cutoff_date(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid cutoffDate {text:?}: write an RFC 3339 time such as 2025-02-07T00:00:00Z or a date such as 2025-02-07"
            ))
        })
    }
}

mod cutoff_version {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<semver::Version>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_str(&v.to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<semver::Version>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        semver::Version::parse(&text).map(Some).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid cutoffVersion {text:?} ({e}): write a version such as 27.0.0 or 28.0.0-rc1"
            ))
        })
    }
}

#[cfg(test)]
mod tests;
