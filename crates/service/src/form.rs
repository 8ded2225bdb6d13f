//! What the lab form needs besides the images: the configured sizes and how the service
//! learns who is asking (lab-form.md §1–§3). Built once at start-up from the configuration
//! and the environment; the notices say what an operator should know about the choice.

use rsp_gafaelfawr::GafaelfawrClient;
use rsp_model::lab::LabSizes;

use crate::backend::{Notice, Severity};

/// How the lab form authenticates its users.
pub enum FormAuth {
    /// No Gafaelfawr configured: anyone gets the form, with every size.
    Open,
    /// Headers from the Gafaelfawr ingress, checked with Gafaelfawr's user-info API.
    Gafaelfawr(GafaelfawrClient),
}

/// The lab form's settings.
pub struct LabForm {
    pub sizes: LabSizes,
    pub auth: FormAuth,
}

impl LabForm {
    /// What the status page should say about the form's setup.
    pub fn notices(&self) -> Vec<Notice> {
        let mut notices = Vec::new();
        if matches!(self.auth, FormAuth::Open) {
            notices.push(Notice {
                severity: Severity::Warning,
                title: "Lab form without authentication".to_owned(),
                detail: "Neither gafaelfawr.url nor REPERTOIRE_BASE_URL is set, so the lab \
                         form is served to anyone, with every size and no quota applied."
                    .to_owned(),
            });
        }
        if self.sizes.sizes.is_empty() {
            notices.push(Notice {
                severity: Severity::Warning,
                title: "No lab sizes".to_owned(),
                detail: "lab.sizes is not set, so the lab form has no size to offer and \
                         answers 502 instead of a form."
                    .to_owned(),
            });
        }
        notices
    }

    /// Where user information comes from, for the start-up log.
    pub fn describe_auth(&self) -> String {
        match &self.auth {
            FormAuth::Open => "none (the lab form is open)".to_owned(),
            FormAuth::Gafaelfawr(client) => client.describe(),
        }
    }
}
