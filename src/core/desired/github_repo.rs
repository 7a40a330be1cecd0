//! A repository's settings and access in the desired state (DESIGN.md, "GitHub governance"):
//! `settings` (fields of `PATCH /repos/{owner}/{repo}`), `topics`, `collaborators`
//! (login → permission), `teams` (slug → permission) and `actions_variables` (name → value;
//! variables are not secrets). GitHub's own field names; a field left out is not managed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The repository PATCH fields sophia manages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// `public`, `private` or `internal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_issues: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_projects: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_wiki: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_template: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_squash_merge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_merge_commit: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_rebase_merge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_auto_merge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_update_branch: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_forking: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_branch_on_merge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_squash_pr_title_as_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_commit_signoff_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// The names of [`RepoSettings`]' fields, as GitHub spells them.
pub const SETTINGS_FIELDS: [&str; 18] = [
    "description",
    "homepage",
    "visibility",
    "default_branch",
    "has_issues",
    "has_projects",
    "has_wiki",
    "is_template",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "allow_auto_merge",
    "allow_update_branch",
    "allow_forking",
    "delete_branch_on_merge",
    "use_squash_pr_title_as_default",
    "web_commit_signoff_required",
    "archived",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
    Internal,
}

/// A repository permission, as the collaborator and team PUT bodies take it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Pull,
    Triage,
    Push,
    Maintain,
    Admin,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Pull => "pull",
            Permission::Triage => "triage",
            Permission::Push => "push",
            Permission::Maintain => "maintain",
            Permission::Admin => "admin",
        }
    }

    /// A permission as GitHub reads it back: the collaborator listing's `role_name`
    /// (`read`, `write`, …) or a team's `permission` (`pull`, `push`, …).
    pub fn from_github(s: &str) -> Option<Permission> {
        Some(match s {
            "pull" | "read" => Permission::Pull,
            "triage" => Permission::Triage,
            "push" | "write" => Permission::Push,
            "maintain" => Permission::Maintain,
            "admin" => Permission::Admin,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_fields_are_the_struct_fields() {
        let all = RepoSettings {
            description: Some(String::new()),
            homepage: Some(String::new()),
            visibility: Some(Visibility::Private),
            default_branch: Some("main".into()),
            has_issues: Some(true),
            has_projects: Some(true),
            has_wiki: Some(true),
            is_template: Some(true),
            allow_squash_merge: Some(true),
            allow_merge_commit: Some(true),
            allow_rebase_merge: Some(true),
            allow_auto_merge: Some(true),
            allow_update_branch: Some(true),
            allow_forking: Some(true),
            delete_branch_on_merge: Some(true),
            use_squash_pr_title_as_default: Some(true),
            web_commit_signoff_required: Some(true),
            archived: Some(true),
        };
        let v = serde_json::to_value(all).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut fields = SETTINGS_FIELDS.to_vec();
        keys.sort();
        fields.sort();
        assert_eq!(keys, fields);
        assert_eq!(Permission::from_github("write"), Some(Permission::Push));
        assert_eq!(Permission::from_github("read"), Some(Permission::Pull));
        assert_eq!(Permission::from_github("owner"), None);
    }
}
