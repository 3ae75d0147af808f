//! Attachments to cases: stored in the database with their SHA-256 and size.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::db::{from_ms, new_id, to_ms};
use crate::{Db, StateError};
use sqlx::AssertSqlSafe;

/// Default largest attachment: 20 MiB.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// An attachment's metadata, as stored and as the API sends it (its
/// OpenAPI schema is `AttachmentMeta`: the access domain's `Attachment` is
/// the reference an application's content makes to it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = AttachmentMeta)]
pub struct Attachment {
    /// Identifier.
    pub id: String,
    /// The case.
    pub case_id: String,
    /// File name as uploaded (sanitised).
    pub filename: String,
    /// Media type as declared.
    pub media_type: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// An attachment to store, checked by [`NewAttachment::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    meta: Attachment,
    content: Vec<u8>,
}

impl NewAttachment {
    /// Checks and prepares an upload: non-empty, at most `max_bytes`, a
    /// plain file name (no path, no control characters, at most 200
    /// characters), a media type of the form `type/subtype`, and, when the
    /// uploader sent one, a matching SHA-256.
    pub fn new(
        case_id: &str,
        filename: &str,
        media_type: &str,
        content: Vec<u8>,
        uploaded_by: &str,
        max_bytes: u64,
        expected_sha256: Option<&str>,
    ) -> Result<NewAttachment, StateError> {
        let size = content.len() as u64;
        if size > max_bytes {
            return Err(StateError::TooLarge {
                size,
                limit: max_bytes,
            });
        }
        if size == 0 {
            return Err(StateError::invalid("attachment", "is empty"));
        }
        let name = filename.trim();
        if name.is_empty()
            || name.chars().count() > 200
            || name.contains(['/', '\\'])
            || name == "."
            || name == ".."
            || name.chars().any(char::is_control)
        {
            return Err(StateError::invalid(
                "filename",
                "must be a plain file name of 1–200 characters without '/', '\\' or control characters",
            ));
        }
        let mt = media_type.trim().to_ascii_lowercase();
        let mt_ok = mt.len() <= 100
            && mt.split_once('/').is_some_and(|(a, b)| {
                let ok = |s: &str| {
                    !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
                };
                ok(a) && ok(b)
            });
        if !mt_ok {
            return Err(StateError::invalid(
                "media type",
                "must look like type/subtype, e.g. application/pdf",
            ));
        }
        let sha = hex::encode(Sha256::digest(&content));
        if let Some(expected) = expected_sha256
            && !expected.trim().eq_ignore_ascii_case(&sha)
        {
            return Err(StateError::invalid(
                "checksum",
                "the SHA-256 sent with the upload does not match its content",
            ));
        }
        Ok(NewAttachment {
            meta: Attachment {
                id: new_id(),
                case_id: case_id.to_string(),
                filename: name.to_string(),
                media_type: mt,
                size_bytes: size,
                sha256: sha,
                uploaded_by: uploaded_by.to_string(),
                uploaded_at: Utc::now(),
            },
            content,
        })
    }

    /// The metadata it will be stored with.
    pub fn meta(&self) -> &Attachment {
        &self.meta
    }
}

pub(crate) async fn insert(
    tx: &mut Transaction<'static, Any>,
    case_id: &str,
    a: &NewAttachment,
) -> Result<(), StateError> {
    if a.meta.case_id != case_id {
        return Err(StateError::invalid(
            "attachment",
            "belongs to a different case than the write",
        ));
    }
    let size = i64::try_from(a.meta.size_bytes)
        .map_err(|_| StateError::invalid("attachment", "too large"))?;
    sqlx::query(
        "INSERT INTO attachments (id, case_id, filename, media_type, size_bytes, sha256, content, uploaded_by, uploaded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&a.meta.id)
    .bind(&a.meta.case_id)
    .bind(&a.meta.filename)
    .bind(&a.meta.media_type)
    .bind(size)
    .bind(&a.meta.sha256)
    .bind(a.content.clone())
    .bind(&a.meta.uploaded_by)
    .bind(to_ms(a.meta.uploaded_at))
    .execute(&mut **tx)
    .await
    .map_err(StateError::db("storing an attachment"))?;
    Ok(())
}

fn meta_from_row(row: &AnyRow) -> Result<Attachment, StateError> {
    let e = || StateError::db("reading an attachment");
    let size: i64 = row.try_get("size_bytes").map_err(e())?;
    Ok(Attachment {
        id: row.try_get("id").map_err(e())?,
        case_id: row.try_get("case_id").map_err(e())?,
        filename: row.try_get("filename").map_err(e())?,
        media_type: row.try_get("media_type").map_err(e())?,
        size_bytes: u64::try_from(size).map_err(|_| StateError::Corrupt {
            what: "attachment",
            reason: "negative size".into(),
        })?,
        sha256: row.try_get("sha256").map_err(e())?,
        uploaded_by: row.try_get("uploaded_by").map_err(e())?,
        uploaded_at: from_ms(row.try_get("uploaded_at").map_err(e())?)?,
    })
}

const META_COLUMNS: &str =
    "id, case_id, filename, media_type, size_bytes, sha256, uploaded_by, uploaded_at";

impl Db {
    /// Stores an attachment without a case event: a document the applicant
    /// uploads while the hub waits for an answer, referenced by the answer
    /// (`provide_information`) that follows.
    pub async fn add_attachment(&self, a: &NewAttachment) -> Result<(), StateError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StateError::db("storing an attachment"))?;
        insert(&mut tx, &a.meta.case_id, a).await?;
        tx.commit()
            .await
            .map_err(StateError::db("storing an attachment"))?;
        Ok(())
    }

    /// Deletes an attachment of a case; returns whether there was one.
    pub async fn delete_attachment(
        &self,
        case_id: &str,
        attachment_id: &str,
    ) -> Result<bool, StateError> {
        let done = sqlx::query("DELETE FROM attachments WHERE case_id = $1 AND id = $2")
            .bind(case_id)
            .bind(attachment_id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("deleting an attachment"))?;
        Ok(done.rows_affected() > 0)
    }

    /// A case's attachments (metadata), oldest first.
    pub async fn list_attachments(&self, case_id: &str) -> Result<Vec<Attachment>, StateError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {META_COLUMNS} FROM attachments WHERE case_id = $1 ORDER BY uploaded_at, id"
        )))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("listing attachments"))?;
        rows.iter().map(meta_from_row).collect()
    }

    /// One attachment of a case with its content; the content's checksum is
    /// verified against the stored one before it is returned.
    pub async fn attachment(
        &self,
        case_id: &str,
        attachment_id: &str,
    ) -> Result<(Attachment, Vec<u8>), StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {META_COLUMNS}, content FROM attachments WHERE case_id = $1 AND id = $2"
        )))
        .bind(case_id)
        .bind(attachment_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading an attachment"))?
        .ok_or_else(|| StateError::NotFound {
            what: "attachment",
            id: attachment_id.to_string(),
        })?;
        let meta = meta_from_row(&row)?;
        let content: Vec<u8> = row
            .try_get("content")
            .map_err(StateError::db("reading an attachment"))?;
        if hex::encode(Sha256::digest(&content)) != meta.sha256 {
            return Err(StateError::Corrupt {
                what: "attachment",
                reason: "its content no longer matches its SHA-256".into(),
            });
        }
        Ok((meta, content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_checked() {
        let ok = NewAttachment::new(
            "c",
            "plan.pdf",
            "application/pdf",
            b"x".to_vec(),
            "u",
            10,
            None,
        )
        .unwrap();
        assert_eq!(ok.meta().size_bytes, 1);
        assert_eq!(
            ok.meta().sha256,
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        let too_big = NewAttachment::new("c", "a", "text/plain", vec![0; 11], "u", 10, None);
        assert!(matches!(
            too_big,
            Err(StateError::TooLarge {
                size: 11,
                limit: 10
            })
        ));
        for bad in ["", "../etc/passwd", "a/b", "a\nb", ".."] {
            assert!(
                NewAttachment::new("c", bad, "text/plain", b"x".to_vec(), "u", 10, None).is_err()
            );
        }
        for bad in ["", "text", "text/", "/plain", "text/pl ain"] {
            assert!(NewAttachment::new("c", "a", bad, b"x".to_vec(), "u", 10, None).is_err());
        }
        assert!(NewAttachment::new("c", "a", "text/plain", Vec::new(), "u", 10, None).is_err());
        assert!(
            NewAttachment::new("c", "a", "text/plain", b"x".to_vec(), "u", 10, Some("00")).is_err()
        );
    }
}
