//! Google's partial-response `fields` parameter (system parameter of every Google REST API,
//! https://cloud.google.com/apis/docs/system-parameters and
//! https://developers.google.com/slides/api/guides/performance#partial-response): a comma
//! list of field names, each optionally followed by a parenthesised sub-selection or a
//! `/`-separated path (`a/b` is `a(b)`). The response keeps only the selected fields. A name
//! the response schema does not have is refused with 400 `INVALID_ARGUMENT`, as Google does.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed selection: field name → sub-selection (empty: the whole field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection(pub BTreeMap<String, Selection>);

/// Parses a `fields` value; `Err` names what is malformed.
pub fn parse(text: &str) -> Result<Selection, String> {
    let mut chars = text.chars().peekable();
    let selection = parse_list(&mut chars, 0)?;
    match chars.next() {
        None => Ok(selection),
        Some(c) => Err(format!("unexpected {c:?} in fields")),
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn parse_list(chars: &mut Chars<'_>, depth: usize) -> Result<Selection, String> {
    let mut selection = Selection::default();
    loop {
        let (name, sub) = parse_element(chars, depth)?;
        merge(&mut selection, name, sub);
        match chars.peek() {
            Some(',') => {
                chars.next();
            }
            _ => return Ok(selection),
        }
    }
}

/// `name`, `name(list)` or `name/element`.
fn parse_element(chars: &mut Chars<'_>, depth: usize) -> Result<(String, Selection), String> {
    if depth > 16 {
        return Err("fields nest too deeply".to_owned());
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '.' || c == '$' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if name.is_empty() {
        return Err("empty field name in fields".to_owned());
    }
    let sub = match chars.peek() {
        Some('(') => {
            chars.next();
            let sub = parse_list(chars, depth + 1)?;
            if chars.next() != Some(')') {
                return Err("unclosed ( in fields".to_owned());
            }
            sub
        }
        Some('/') => {
            chars.next();
            let (inner, sub) = parse_element(chars, depth + 1)?;
            Selection([(inner, sub)].into_iter().collect())
        }
        _ => Selection::default(),
    };
    Ok((name, sub))
}

fn merge(selection: &mut Selection, name: String, sub: Selection) {
    match selection.0.get_mut(&name) {
        Some(existing) if existing.0.is_empty() || sub.0.is_empty() => {
            existing.0.clear();
        }
        Some(existing) => {
            for (k, v) in sub.0 {
                merge(existing, k, v);
            }
        }
        None => {
            selection.0.insert(name, sub);
        }
    }
}

/// The field names a message of the response may have, for checking a selection.
pub struct Schema {
    pub fields: &'static [(&'static str, Option<&'static Schema>)],
}

impl Selection {
    /// Checks every selected name against `schema`.
    pub fn check(&self, schema: &Schema) -> Result<(), String> {
        for (name, sub) in &self.0 {
            let Some((_, nested)) = schema.fields.iter().find(|(field, _)| field == name) else {
                return Err(format!("unknown field {name:?}"));
            };
            match nested {
                Some(nested) => sub.check(nested)?,
                None if !sub.0.is_empty() => {
                    return Err(format!("field {name:?} has no sub-fields"));
                }
                None => {}
            }
        }
        Ok(())
    }

    /// `value` with only the selected fields (arrays are filtered element by element).
    pub fn apply(&self, value: &Value) -> Value {
        if self.0.is_empty() {
            return value.clone();
        }
        match value {
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .filter_map(|(key, field)| {
                        self.0.get(key).map(|sub| (key.clone(), sub.apply(field)))
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.apply(item)).collect())
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_parse_and_apply() {
        let mask =
            parse("dockerImages(name,imageManifests(os,architecture)),nextPageToken").unwrap();
        let value = serde_json::json!({
            "dockerImages": [{"name": "n", "uri": "u", "imageManifests": [{"os": "linux", "architecture": "amd64", "digest": "d"}]}],
            "nextPageToken": "t",
            "other": 1
        });
        assert_eq!(
            mask.apply(&value),
            serde_json::json!({
                "dockerImages": [{"name": "n", "imageManifests": [{"os": "linux", "architecture": "amd64"}]}],
                "nextPageToken": "t"
            })
        );
        assert_eq!(parse("a/b,c").unwrap(), parse("a(b),c").unwrap());
        for bad in ["", "a(", "a,", "a)", "a(b))", "a b"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
