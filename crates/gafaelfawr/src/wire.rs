//! Gafaelfawr's user-info answer (`UserInfo` model, `GET /auth/api/v1/user-info`): the
//! fields the form uses are checked as strictly as the original checks them, the others
//! ignored (lab-form.md §2.2 allows it; Gafaelfawr adds fields over time).

use rsp_model::lab::NotebookQuota;
use serde::Deserialize;

/// Who the token belongs to and their notebook quota.
#[derive(Debug, Clone, PartialEq)]
pub struct UserInfo {
    pub username: String,
    /// `quota.notebook`; `None` when Gafaelfawr gives none (then nothing is filtered).
    pub notebook_quota: Option<NotebookQuota>,
}

#[derive(Deserialize)]
struct Answer {
    username: String,
    #[serde(default)]
    quota: Option<Quota>,
}

#[derive(Deserialize)]
struct Quota {
    #[serde(default)]
    notebook: Option<Notebook>,
}

#[derive(Deserialize)]
struct Notebook {
    cpu: f64,
    memory: f64,
    #[serde(default = "spawn_by_default")]
    spawn: bool,
}

/// Gafaelfawr's `NotebookQuota.spawn` defaults to true.
fn spawn_by_default() -> bool {
    true
}

impl UserInfo {
    /// Reads a user-info body; the error says what is wrong with it.
    pub fn from_json(body: &[u8]) -> Result<UserInfo, serde_json::Error> {
        let answer: Answer = serde_json::from_slice(body)?;
        Ok(UserInfo {
            username: answer.username,
            notebook_quota: answer
                .quota
                .and_then(|q| q.notebook)
                .map(|n| NotebookQuota {
                    cpu: n.cpu,
                    memory_gib: n.memory,
                    spawn: n.spawn,
                }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<UserInfo, String> {
        UserInfo::from_json(body.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_fields_the_form_uses() {
        let info = read(
            r#"{"username":"alice","name":"Alice","uid":1000,"groups":[{"name":"g","id":1}],
               "quota":{"api":{"tap":5},"notebook":{"cpu":9,"memory":27.5}},"extra":true}"#,
        )
        .unwrap();
        assert_eq!(info.username, "alice");
        assert_eq!(
            info.notebook_quota,
            Some(NotebookQuota {
                cpu: 9.0,
                memory_gib: 27.5,
                spawn: true
            })
        );
        let info = read(r#"{"username":"bob","quota":{"api":{"datalinker":5}}}"#).unwrap();
        assert_eq!(info.notebook_quota, None);
        let info = read(r#"{"username":"bob","quota":null}"#).unwrap();
        assert_eq!(info.notebook_quota, None);
        let info =
            read(r#"{"username":"c","quota":{"notebook":{"cpu":1,"memory":1,"spawn":false}}}"#)
                .unwrap();
        assert!(!info.notebook_quota.unwrap().spawn);
    }

    #[test]
    fn what_the_original_refuses_too() {
        for body in [
            r#"{"name":"no username"}"#,
            r#"{"username":5}"#,
            r#"{"username":"a","quota":{"notebook":{"cpu":1}}}"#,
            r#"{"username":"a","quota":{"notebook":{"cpu":"x","memory":1}}}"#,
            r#"{"username":"a","quota":{"notebook":{"cpu":1,"memory":1,"spawn":"maybe"}}}"#,
            "[]",
            "<html>",
            "",
        ] {
            assert!(read(body).is_err(), "{body}");
        }
    }
}
