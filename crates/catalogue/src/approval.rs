//! A data steward's approval of a description, and the published
//! description it makes.
//!
//! An approval records who approved and when, and the SHA-256 digest of
//! the description it approved (its canonical JSON). A description edited
//! after approval no longer matches its approval and is not published until
//! it is approved again: [`Approved::new`] is the only way to a
//! publishable description.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::description::{DatasetDescription, DescriptionError, FileFormat, parse_text};

/// Who approved which version of a description, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The dataset's identifier.
    pub dataset: String,
    /// SHA-256 (hex) of the approved description's canonical JSON.
    pub digest: String,
    /// The data steward (user name).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why an approval does not make a description publishable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// The approval is for another dataset.
    #[error("the approval is for dataset {approved}, not {described}")]
    OtherDataset {
        /// The approval's dataset.
        approved: String,
        /// The description's id.
        described: String,
    },
    /// The description changed after it was approved.
    #[error(
        "dataset {dataset}: the description changed after {by} approved it at {at} (digest {approved}, now {now}); approve it again"
    )]
    Changed {
        /// The dataset.
        dataset: String,
        /// Who approved the earlier version.
        by: String,
        /// When.
        at: DateTime<Utc>,
        /// Digest approved.
        approved: String,
        /// Digest of the description now.
        now: String,
    },
    /// No approver named.
    #[error("an approval must name the data steward who approved")]
    NoApprover,
}

/// The digest an approval binds: SHA-256 of the description's canonical
/// JSON (fields in declaration order, as serialized), in hex.
#[must_use]
pub fn digest(d: &DatasetDescription) -> String {
    // Serializing plain strings, enums, dates and vectors cannot fail; an
    // empty byte string would only make every approval mismatch.
    let bytes = serde_json::to_vec(d).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

impl Approval {
    /// Approve `d` as `by` at `at`.
    ///
    /// # Errors
    /// [`ApprovalError::NoApprover`] when `by` is blank.
    pub fn new(
        d: &DatasetDescription,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Approval, ApprovalError> {
        if by.trim().is_empty() {
            return Err(ApprovalError::NoApprover);
        }
        Ok(Approval {
            dataset: d.id.clone(),
            digest: digest(d),
            by: by.trim().to_string(),
            at,
        })
    }

    /// Read an approval record (JSON).
    ///
    /// # Errors
    /// [`DescriptionError`] naming the file and field.
    pub fn read(path: &Path) -> Result<Approval, DescriptionError> {
        let text = std::fs::read_to_string(path).map_err(|source| DescriptionError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        parse_text(&text, FileFormat::Json, path)
    }

    /// Whether this approval covers `d` as it is now.
    ///
    /// # Errors
    /// [`ApprovalError`] saying why not.
    pub fn check(&self, d: &DatasetDescription) -> Result<(), ApprovalError> {
        if self.by.trim().is_empty() {
            return Err(ApprovalError::NoApprover);
        }
        if self.dataset != d.id {
            return Err(ApprovalError::OtherDataset {
                approved: self.dataset.clone(),
                described: d.id.clone(),
            });
        }
        let now = digest(d);
        if now != self.digest {
            return Err(ApprovalError::Changed {
                dataset: d.id.clone(),
                by: self.by.clone(),
                at: self.at,
                approved: self.digest.clone(),
                now,
            });
        }
        Ok(())
    }
}

/// A description with an approval that covers it: what the catalogue
/// publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Approved {
    description: DatasetDescription,
    approval: Approval,
}

impl Approved {
    /// Pair a description with its approval.
    ///
    /// # Errors
    /// [`ApprovalError`] when the approval does not cover the description.
    pub fn new(description: DatasetDescription, approval: Approval) -> Result<Self, ApprovalError> {
        approval.check(&description)?;
        Ok(Approved {
            description,
            approval,
        })
    }

    /// The description.
    #[must_use]
    pub fn description(&self) -> &DatasetDescription {
        &self.description
    }

    /// Its approval.
    #[must_use]
    pub fn approval(&self) -> &Approval {
        &self.approval
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn example() -> DatasetDescription {
        DatasetDescription::parse(
            include_str!("../tests/data/par-inpatient.yaml"),
            FileFormat::Yaml,
            Path::new("par.yaml"),
        )
        .unwrap()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap()
    }

    #[test]
    fn an_approval_covers_the_description_it_approved() {
        let d = example();
        let a = Approval::new(&d, " steward ", at()).unwrap();
        assert_eq!(a.by, "steward");
        assert_eq!(a.digest.len(), 64);
        let p = Approved::new(d.clone(), a.clone()).unwrap();
        assert_eq!(p.description(), &d);
        assert_eq!(p.approval(), &a);
    }

    #[test]
    fn an_edit_after_approval_unpublishes() {
        let mut d = example();
        let a = Approval::new(&d, "steward", at()).unwrap();
        d.title.en.push_str(" (edited)");
        let e = Approved::new(d, a).unwrap_err();
        assert!(matches!(e, ApprovalError::Changed { .. }), "{e}");
        assert!(e.to_string().contains("approve it again"), "{e}");
    }

    #[test]
    fn an_approval_for_another_dataset_does_not_count() {
        let d = example();
        let mut other = d.clone();
        other.id = "lab-region-1".into();
        let a = Approval::new(&other, "steward", at()).unwrap();
        assert!(matches!(
            Approved::new(d, a),
            Err(ApprovalError::OtherDataset { .. })
        ));
    }

    #[test]
    fn an_approver_is_required() {
        assert_eq!(
            Approval::new(&example(), "  ", at()),
            Err(ApprovalError::NoApprover)
        );
    }

    #[test]
    fn approvals_round_trip_through_json_files() {
        let d = example();
        let a = Approval::new(&d, "steward", at()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("par.approval.json");
        std::fs::write(&path, serde_json::to_string_pretty(&a).unwrap()).unwrap();
        assert_eq!(Approval::read(&path).unwrap(), a);
        std::fs::write(&path, "{\"dataset\": \"x\"}").unwrap();
        let e = Approval::read(&path).unwrap_err();
        assert!(e.to_string().contains("par.approval.json"), "{e}");
    }
}
