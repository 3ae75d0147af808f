//! What an application asks for: purpose, legal basis, form, datasets and
//! variables, cohort, period, members and attachments — and the checks on
//! them.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{FieldIssue, UnknownValue};
use crate::ids::{OrgId, UserId, looks_like_identity_number};
use crate::permit::Permit;
use crate::text::{MAX_TEXT_CHARS, MAX_TITLE_CHARS, check_line, check_required_text, check_text};

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($(#[$vdoc:meta])* $variant:ident => $wire:literal, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every value, in a fixed order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name (snake_case).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// A human-readable label (English).
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownValue::new(
                    $kind,
                    s,
                    $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                ))
            }
        }
    };
}

impl UnknownValue {
    fn new(kind: &'static str, given: &str, expected: String) -> Self {
        // Echo only short, harmless names; never free text or numbers.
        let given = if given.len() <= 40 && !looks_like_identity_number(given) {
            given.to_string()
        } else {
            "(value withheld)".to_string()
        };
        Self {
            kind,
            given,
            expected,
        }
    }
}

named_enum!(
    /// The purpose of secondary use: the EHDS Art. 53(1) list plus the
    /// Swedish quality follow-up and care development. Anything else is
    /// refused (parsing fails with [`UnknownValue`]).
    Purpose, "purpose", {
        /// Public interest in public and occupational health (Art. 53(1)(a)).
        PublicHealth => "public_health", "Public interest in public and occupational health";
        /// Policy making and regulatory activities (Art. 53(1)(b)).
        PolicyAndRegulation => "policy_and_regulation", "Policy making and regulation";
        /// Official statistics (Art. 53(1)(c)).
        OfficialStatistics => "official_statistics", "Official statistics";
        /// Education or teaching in the health or care sectors (Art. 53(1)(d)).
        Education => "education", "Education and teaching in health and care";
        /// Scientific research related to health or care (Art. 53(1)(e)).
        ScientificResearch => "scientific_research", "Scientific research in health and care";
        /// Development and innovation of products or services (Art. 53(1)(e)(i)).
        DevelopmentAndInnovation => "development_and_innovation", "Development and innovation";
        /// Training, testing and evaluation of algorithms (Art. 53(1)(e)(ii)).
        AlgorithmTraining => "algorithm_training", "Training, testing and evaluation of algorithms";
        /// Improving care, treatment optimisation, personalised care (Art. 53(1)(f)).
        PersonalisedCare => "personalised_care", "Improvement of care and personalised care";
        /// Swedish quality follow-up (kvalitetsuppföljning).
        QualityFollowUp => "quality_follow_up", "Quality follow-up (kvalitetsuppföljning)";
        /// Swedish care development (verksamhetsutveckling).
        CareDevelopment => "care_development", "Care development (verksamhetsutveckling)";
    }
);

named_enum!(
    /// The legal basis the applicant relies on (GDPR Art. 6 with the Art. 9
    /// exception for health data).
    LegalBasis, "legal basis", {
        /// Task in the public interest or official authority (Art. 6(1)(e), 9(2)(i)/(j)).
        PublicTask => "public_task", "Task in the public interest (GDPR 6(1)(e))";
        /// Legal obligation (Art. 6(1)(c)).
        LegalObligation => "legal_obligation", "Legal obligation (GDPR 6(1)(c))";
        /// Legitimate interest (Art. 6(1)(f)) with Art. 9(2)(j) research exception.
        LegitimateInterest => "legitimate_interest", "Legitimate interest (GDPR 6(1)(f))";
        /// Scientific research under Art. 9(2)(j) and national law.
        ResearchException => "research_exception", "Scientific research (GDPR 9(2)(j))";
    }
);

named_enum!(
    /// The form in which data is requested.
    RequestedForm, "requested form", {
        /// Anonymised statistics only (an EHDS data request).
        AnonymisedStatistics => "anonymised_statistics", "Anonymised statistics";
        /// Pseudonymised data inside the secure processing workspace (a data permit).
        PseudonymisedWorkspace => "pseudonymised_workspace", "Pseudonymised data in the secure workspace";
    }
);

/// One requested dataset and the variables wanted from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetRequest {
    /// The dataset's catalogue name, e.g. `patient_register_inpatient`.
    pub dataset: String,
    /// The variables requested from it.
    pub variables: Vec<String>,
}

/// A closed date interval (both ends included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub until: NaiveDate,
}

/// Metadata of an uploaded attachment (the bytes are the platform's). The
/// platform computes `size` and `sha256` from the bytes it received, never
/// trusting the client's claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// File name as shown to users.
    pub name: String,
    /// Media type, e.g. `application/pdf`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub sha256: String,
}

/// Limits on attachments, enforced by [`decide`](crate::decide_with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachmentPolicy {
    /// Largest accepted attachment in bytes (default 20 MiB).
    pub max_size: u64,
    /// Most attachments per application (default 20).
    pub max_count: usize,
    /// Accepted media types (default: PDF, plain text, CSV, ODF/OOXML
    /// documents and spreadsheets, PNG, JPEG).
    pub allowed_media_types: Vec<String>,
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        Self {
            max_size: 20 * 1024 * 1024,
            max_count: 20,
            allowed_media_types: [
                "application/pdf",
                "text/plain",
                "text/csv",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.oasis.opendocument.spreadsheet",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "image/png",
                "image/jpeg",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        }
    }
}

impl AttachmentPolicy {
    /// Checks one attachment; `field` prefixes the issue paths.
    pub fn check(&self, field: &str, a: &Attachment) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        let name = a.name.trim();
        if name.is_empty() {
            issues.push(FieldIssue::new(format!("{field}.name"), "is empty"));
        } else if name.chars().count() > 255 {
            issues.push(FieldIssue::new(
                format!("{field}.name"),
                "is longer than 255 characters",
            ));
        } else if name.contains(['/', '\\']) || name.chars().any(char::is_control) || name == ".." {
            issues.push(FieldIssue::new(
                format!("{field}.name"),
                "must be a plain file name without path separators or control characters",
            ));
        } else if looks_like_identity_number(name) {
            issues.push(FieldIssue::new(
                format!("{field}.name"),
                "contains what looks like a personal identity number",
            ));
        }
        let media = media_type_essence(&a.media_type).unwrap_or_default();
        if !self.allowed_media_types.contains(&media) {
            issues.push(FieldIssue::new(
                format!("{field}.media_type"),
                format!(
                    "type not allowed; allowed types: {}",
                    self.allowed_media_types.join(", ")
                ),
            ));
        }
        if a.size == 0 {
            issues.push(FieldIssue::new(
                format!("{field}.size"),
                "the file is empty",
            ));
        } else if a.size > self.max_size {
            issues.push(FieldIssue::new(
                format!("{field}.size"),
                format!(
                    "{} bytes is larger than the limit of {} bytes",
                    a.size, self.max_size
                ),
            ));
        }
        if a.sha256.len() != 64
            || !a
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            issues.push(FieldIssue::new(
                format!("{field}.sha256"),
                "must be 64 lowercase hexadecimal digits",
            ));
        }
        issues
    }
}

/// Problems with the people an application or permit names (`field[i]`):
/// each must be a user of the hub (`orgs_of` gives the organisations where
/// a user holds any role, `None` for an unknown user) and belong to the
/// application's `organisation`, or have accepted an invitation to the
/// application (`accepted_invitees`). Other members from elsewhere are
/// refused: they would hold a permit for an organisation they do not work
/// for without having agreed to join.
pub fn member_issues(
    field: &str,
    members: &[UserId],
    organisation: &OrgId,
    accepted_invitees: &[UserId],
    orgs_of: impl Fn(&UserId) -> Option<Vec<OrgId>>,
) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    for (i, m) in members.iter().enumerate() {
        match orgs_of(m) {
            None => issues.push(FieldIssue::new(
                format!("{field}[{i}]"),
                "is not a user of this hub",
            )),
            Some(orgs) if !orgs.contains(organisation) && !accepted_invitees.contains(m) => {
                issues.push(FieldIssue::new(
                    format!("{field}[{i}]"),
                    format!(
                        "is not a user of the applying organisation {organisation} and has not accepted an invitation to this application (invite_member, then the user answers with answer_invitation)"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    issues
}

/// The essence (`type/subtype`, lowercase) of a media type that may carry
/// parameters (`text/plain; charset=utf-8`); `None` when it is not of that
/// form.
pub fn media_type_essence(media_type: &str) -> Option<String> {
    let mut parts = media_type.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let (a, b) = essence.split_once('/')?;
    if !(token(a) && token(b)) || essence.len() > 100 {
        return None;
    }
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        let (k, _) = p.split_once('=')?;
        if !token(k.trim()) {
            return None;
        }
    }
    Some(essence)
}

fn charset_of(media_type: &str) -> Option<String> {
    media_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset"))
            .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// Checks that `bytes` are what `media_type` declares, for the types the
/// hub accepts: PDF (`%PDF-`), PNG and JPEG (their signatures), the
/// zip-based office formats (OOXML and OpenDocument: a zip archive; an
/// OpenDocument file's `mimetype` entry must name the declared type), and
/// plain text and CSV (UTF-8, or the declared `charset` when it is
/// `us-ascii` or `utf-8`, without NUL or other control characters than
/// tab, line breaks and form feed). Returns the media type's essence, or
/// why the bytes do not match.
pub fn sniff_media_type(media_type: &str, bytes: &[u8]) -> Result<String, String> {
    let essence = media_type_essence(media_type).ok_or_else(|| {
        "is not a media type of the form type/subtype[; parameter=value]".to_string()
    })?;
    let ok = match essence.as_str() {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        t if t.starts_with("application/vnd.openxmlformats-officedocument.") => {
            bytes.starts_with(b"PK\x03\x04")
        }
        t if t.starts_with("application/vnd.oasis.opendocument.") => {
            // The first entry is the uncompressed file `mimetype` holding
            // the type (OpenDocument 1.2, part 3, §3.3).
            bytes.starts_with(b"PK\x03\x04")
                && bytes.get(30..38) == Some(b"mimetype".as_slice())
                && bytes
                    .get(38..38 + t.len())
                    .is_some_and(|m| m == t.as_bytes())
        }
        "text/plain" | "text/csv" => {
            if let Some(cs) = charset_of(media_type)
                && !matches!(cs.as_str(), "utf-8" | "us-ascii")
            {
                return Err(format!("charset {cs} is not accepted; send UTF-8 text"));
            }
            std::str::from_utf8(bytes).is_ok_and(|t| {
                !t.chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
            })
        }
        // Other types are refused by the allow-list, not here.
        _ => true,
    };
    if ok {
        Ok(essence)
    } else {
        Err(format!(
            "the content is not {essence} (its first bytes do not match the declared media type)"
        ))
    }
}

/// The content of an application. A draft may leave fields empty;
/// [`ApplicationContent::missing`] lists what must be filled in before it can
/// be submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationContent {
    /// Project title (public in the register).
    pub title: String,
    /// Summary of the project (not public).
    #[serde(default)]
    pub summary: String,
    /// The purpose of use.
    #[serde(default)]
    pub purpose: Option<Purpose>,
    /// Legal basis relied on.
    #[serde(default)]
    pub legal_basis: Option<LegalBasis>,
    /// Ethics approval reference (Etikprövningsmyndigheten Dnr), required
    /// for scientific research.
    #[serde(default)]
    pub ethics_reference: Option<String>,
    /// The applying organisation (public in the register).
    pub organisation: OrgId,
    /// Project members who would work with the data (never published).
    #[serde(default)]
    pub members: Vec<UserId>,
    /// Requested datasets and variables.
    #[serde(default)]
    pub datasets: Vec<DatasetRequest>,
    /// The cohort definition: a feasibility query, kept as opaque JSON.
    #[serde(default)]
    pub cohort: Option<serde_json::Value>,
    /// The period of data requested.
    #[serde(default)]
    pub period: Option<Period>,
    /// The requested form.
    #[serde(default)]
    pub form: Option<RequestedForm>,
    /// Attachment metadata (protocol, ethics decision, ...).
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

impl ApplicationContent {
    /// A nearly empty draft for `organisation` titled `title`.
    pub fn draft(organisation: OrgId, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            summary: String::new(),
            purpose: None,
            legal_basis: None,
            ethics_reference: None,
            organisation,
            members: Vec::new(),
            datasets: Vec::new(),
            cohort: None,
            period: None,
            form: None,
            attachments: Vec::new(),
        }
    }

    /// Problems that make the content unacceptable even as a draft: limits
    /// exceeded, malformed attachments, text holding an identity number,
    /// inverted period.
    pub fn check_draft(&self, policy: &AttachmentPolicy) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        check_line(&mut issues, "title", &self.title, MAX_TITLE_CHARS);
        check_text(&mut issues, "summary", &self.summary, MAX_TEXT_CHARS);
        if let Some(r) = &self.ethics_reference {
            check_line(&mut issues, "ethics_reference", r, 100);
        }
        for (i, d) in self.datasets.iter().enumerate() {
            check_line(
                &mut issues,
                &format!("datasets[{i}].dataset"),
                &d.dataset,
                200,
            );
            if d.variables.len() > 2_000 {
                issues.push(FieldIssue::new(
                    format!("datasets[{i}].variables"),
                    "more than 2000 variables",
                ));
            }
            for (j, v) in d.variables.iter().enumerate() {
                check_line(
                    &mut issues,
                    &format!("datasets[{i}].variables[{j}]"),
                    v,
                    200,
                );
            }
        }
        if self.datasets.len() > 200 {
            issues.push(FieldIssue::new("datasets", "more than 200 datasets"));
        }
        if self.members.len() > 500 {
            issues.push(FieldIssue::new("members", "more than 500 members"));
        }
        if let Some(p) = &self.period
            && p.from > p.until
        {
            issues.push(FieldIssue::new("period", "starts after it ends"));
        }
        if let Some(c) = &self.cohort {
            let text = c.to_string();
            if text.len() > 1_000_000 {
                issues.push(FieldIssue::new("cohort", "larger than 1 MB of JSON"));
            } else if looks_like_identity_number(&text) {
                issues.push(FieldIssue::new(
                    "cohort",
                    "contains what looks like a personal identity number",
                ));
            }
        }
        if self.attachments.len() > policy.max_count {
            issues.push(FieldIssue::new(
                "attachments",
                format!("more than {} attachments", policy.max_count),
            ));
        }
        for (i, a) in self.attachments.iter().enumerate() {
            issues.extend(policy.check(&format!("attachments[{i}]"), a));
        }
        issues
    }

    /// What is still missing before the application can be submitted (empty
    /// when complete enough to submit). Also used as the default list when a
    /// case officer returns an application as incomplete.
    pub fn missing(&self) -> Vec<FieldIssue> {
        let mut m = Vec::new();
        if self.title.trim().is_empty() {
            m.push(FieldIssue::new("title", "is required"));
        }
        if self.summary.trim().is_empty() {
            m.push(FieldIssue::new("summary", "is required"));
        }
        if self.purpose.is_none() {
            m.push(FieldIssue::new("purpose", "is required"));
        }
        if self.legal_basis.is_none() {
            m.push(FieldIssue::new("legal_basis", "is required"));
        }
        if self.purpose == Some(Purpose::ScientificResearch)
            && self
                .ethics_reference
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            m.push(FieldIssue::new(
                "ethics_reference",
                "is required for scientific research (ethics approval Dnr)",
            ));
        }
        if self.datasets.is_empty() {
            m.push(FieldIssue::new(
                "datasets",
                "at least one dataset is required",
            ));
        }
        for (i, d) in self.datasets.iter().enumerate() {
            if d.dataset.trim().is_empty() {
                m.push(FieldIssue::new(
                    format!("datasets[{i}].dataset"),
                    "is required",
                ));
            }
            if d.variables.is_empty() {
                m.push(FieldIssue::new(
                    format!("datasets[{i}].variables"),
                    "at least one variable is required",
                ));
            }
        }
        if self.cohort.is_none() {
            m.push(FieldIssue::new("cohort", "a cohort definition is required"));
        }
        if self.period.is_none() {
            m.push(FieldIssue::new("period", "is required"));
        }
        if self.form.is_none() {
            m.push(FieldIssue::new("form", "is required"));
        }
        if self.form == Some(RequestedForm::PseudonymisedWorkspace) && self.members.is_empty() {
            m.push(FieldIssue::new(
                "members",
                "at least one member is required for pseudonymised data",
            ));
        }
        m
    }
}

/// A requested change to an issued permit: members (authorised users),
/// period, datasets/variables, validity end. At least one change; every
/// change is reviewed anew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    /// The new member list (becomes the permit's authorised users).
    #[serde(default)]
    pub members: Option<Vec<UserId>>,
    /// The new data period.
    #[serde(default)]
    pub period: Option<Period>,
    /// The new datasets and variables.
    #[serde(default)]
    pub datasets: Option<Vec<DatasetRequest>>,
    /// The new last day of the permit's validity.
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    /// Why the change is needed.
    pub reason: String,
}

impl Amendment {
    /// Checks the amendment against the permit it would change.
    pub fn check(&self, permit: &Permit) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.members.is_none()
            && self.period.is_none()
            && self.datasets.is_none()
            && self.valid_until.is_none()
        {
            issues.push(FieldIssue::new(
                "amendment",
                "change at least one of members, period, datasets, valid_until",
            ));
        }
        check_required_text(&mut issues, "reason", &self.reason, MAX_TEXT_CHARS);
        if let Some(m) = &self.members {
            if m.is_empty() {
                issues.push(FieldIssue::new("members", "may not be empty"));
            }
            if m.len() > 500 {
                issues.push(FieldIssue::new("members", "more than 500 members"));
            }
        }
        if let Some(p) = &self.period
            && p.from > p.until
        {
            issues.push(FieldIssue::new("period", "starts after it ends"));
        }
        if let Some(ds) = &self.datasets {
            if ds.is_empty() {
                issues.push(FieldIssue::new("datasets", "may not be empty"));
            }
            for (i, d) in ds.iter().enumerate() {
                check_required_text(
                    &mut issues,
                    &format!("datasets[{i}].dataset"),
                    &d.dataset,
                    200,
                );
                if d.variables.is_empty() {
                    issues.push(FieldIssue::new(
                        format!("datasets[{i}].variables"),
                        "at least one variable is required",
                    ));
                }
                for (j, v) in d.variables.iter().enumerate() {
                    check_required_text(
                        &mut issues,
                        &format!("datasets[{i}].variables[{j}]"),
                        v,
                        200,
                    );
                }
            }
        }
        if let Some(u) = self.valid_until
            && u < permit.terms.valid_from
        {
            issues.push(FieldIssue::new(
                "valid_until",
                "is before the permit's valid_from",
            ));
        }
        issues
    }

    /// The application content with the amendment applied.
    pub fn apply_to(&self, content: &mut ApplicationContent) {
        if let Some(m) = &self.members {
            content.members = m.clone();
        }
        if let Some(p) = self.period {
            content.period = Some(p);
        }
        if let Some(d) = &self.datasets {
            content.datasets = d.clone();
        }
    }

    /// The permit with the amendment applied: new authorised users, new
    /// validity end, version + 1.
    pub fn apply_to_permit(&self, permit: &Permit) -> Permit {
        let mut p = permit.clone();
        if let Some(m) = &self.members {
            p.terms.authorised_users = m.clone();
        }
        if let Some(u) = self.valid_until {
            p.terms.valid_until = u;
        }
        p.version = p.version.saturating_add(1);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_purpose_is_refused_with_the_list() {
        let err = "marketing".parse::<Purpose>().unwrap_err();
        assert!(err.to_string().contains("scientific_research"), "{err}");
        assert_eq!(
            "quality_follow_up".parse::<Purpose>().unwrap(),
            Purpose::QualityFollowUp
        );
        let json: Result<Purpose, _> = serde_json::from_str("\"marketing\"");
        assert!(json.is_err());
        let err = "198112189876".parse::<Purpose>().unwrap_err();
        assert!(!err.to_string().contains("9876"));
    }

    #[test]
    fn attachment_policy() {
        let p = AttachmentPolicy::default();
        let ok = Attachment {
            name: "protocol.pdf".into(),
            media_type: "application/pdf".into(),
            size: 1000,
            sha256: "a".repeat(64),
        };
        assert!(p.check("a", &ok).is_empty());
        let big = Attachment {
            size: p.max_size + 1,
            ..ok.clone()
        };
        assert_eq!(p.check("a", &big)[0].field, "a.size");
        let exe = Attachment {
            media_type: "application/x-msdownload".into(),
            ..ok.clone()
        };
        assert_eq!(p.check("a", &exe)[0].field, "a.media_type");
        let path = Attachment {
            name: "../../etc/passwd".into(),
            ..ok.clone()
        };
        assert_eq!(p.check("a", &path)[0].field, "a.name");
        let sum = Attachment {
            sha256: "XYZ".into(),
            ..ok
        };
        assert_eq!(p.check("a", &sum)[0].field, "a.sha256");
    }
}
