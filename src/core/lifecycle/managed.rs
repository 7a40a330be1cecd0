//! The managed set's types: what the backend keeps (`backend/managed.rs`) and apply updates
//! ([`super::record`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::address::Address;

/// One managed address: the applies that first and last created or changed it, and whether
/// it is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedEntry {
    /// `sha256:` digest of the plan whose apply first created or changed it.
    pub first: String,
    /// `sha256:` digest of the plan whose apply last created or changed it.
    pub last: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The protected names inside the address (`secret.<NAME>`, `variable.<NAME>` of a Fly
    /// app's secrets or an environment; [`super::protect`]).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub protect_names: BTreeSet<String>,
}

/// Every address sophia's applies created or changed and did not delete since.
pub type ManagedSet = BTreeMap<Address, ManagedEntry>;
