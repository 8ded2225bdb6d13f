//! What the lab form needs besides the images: the configured sizes and how the service
//! learns who is asking (lab-form.md §1–§3). Built once at start-up from the configuration
//! and the environment; its setup feeds the status pages' notices about the choice.

use rsp_gafaelfawr::GafaelfawrClient;
use rsp_model::lab::LabSizes;

use crate::status::{FormUsers, LabFormSetup};

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
    /// What the status pages tell about the form's setup.
    pub fn setup(&self) -> LabFormSetup {
        LabFormSetup {
            users: match self.auth {
                FormAuth::Open => FormUsers::Anyone,
                FormAuth::Gafaelfawr(_) => FormUsers::Authenticated,
            },
            sizes: self.sizes.sizes.len(),
        }
    }

    /// Where user information comes from, for the start-up log.
    pub fn describe_auth(&self) -> String {
        match &self.auth {
            FormAuth::Open => "none (the lab form is open)".to_owned(),
            FormAuth::Gafaelfawr(client) => client.describe(),
        }
    }
}
