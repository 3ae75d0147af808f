//! The reference data of a CDM folder: what its reference tables
//! (`cdm_source`, `concept`, `person`, `location`, `care_site`,
//! `visit_occurrence`) offer the folder's other tables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use halsohub_identity::Pseudonym;
use halsohub_store::Setting;

use super::super::FastMap;

/// The folder key of a table file: its directory, canonical when possible.
pub(crate) fn folder_key(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// A concept as the readers use it: halsohub system, normalised code, and
/// whether the code is in a loaded code list.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(super) system: Arc<str>,
    pub(super) code: Box<str>,
    pub(super) known: bool,
}

/// A Swedish region of a `location` row: the län code (`state`) and the
/// kommun code (`county`) when it lies in that län.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(super) region: Box<str>,
    pub(super) municipality: Option<Box<str>>,
}

/// A `care_site` row: the provider code (`care_site_source_value`, else
/// `care_site_name`) and its `location_id`.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(super) provider: Option<Box<str>>,
    pub(super) location: Option<i64>,
}

/// A `visit_occurrence` row as its events see it.
#[derive(Debug, Clone)]
pub(crate) struct Visit {
    pub(super) person: i64,
    pub(super) setting: Option<Setting>,
    pub(super) care_site: Option<i64>,
}

/// What an event takes from its visit: setting, provider, provider region.
pub(super) type VisitContext = (Option<Setting>, Option<String>, Option<String>);

/// What a reference table offers its folder's other tables.
#[derive(Debug)]
pub(crate) enum Export {
    /// `cdm_source`: the pseudonym scope of the data holder.
    Source(String),
    /// `concept`: concept id → code.
    Concepts(FastMap<i64, Resolved>),
    /// `person`: person id → pseudonym (`None`: the person row was
    /// rejected), and person id → the Swedish region of its `location_id`.
    Persons(FastMap<i64, Option<Pseudonym>>, FastMap<i64, Place>),
    /// `location`: location id → Swedish region (other locations are left
    /// out).
    Locations(FastMap<i64, Place>),
    /// `care_site`: care site id → provider and location.
    CareSites(FastMap<i64, Site>),
    /// `visit_occurrence`: visit id → person, setting, care site (visits
    /// with neither setting nor care site are left out).
    Visits(FastMap<i64, Visit>),
}

/// The reference data of one CDM folder.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    pub(super) scope: Option<String>,
    pub(super) concepts: Option<FastMap<i64, Resolved>>,
    pub(super) persons: Option<FastMap<i64, Option<Pseudonym>>>,
    /// person id → the Swedish region of the person's location.
    pub(super) places: FastMap<i64, Place>,
    pub(super) locations: FastMap<i64, Place>,
    pub(super) care_sites: FastMap<i64, Site>,
    pub(super) visits: FastMap<i64, Visit>,
}

/// Adds the entries of `new` whose keys `known` does not hold (the first
/// file's row wins).
pub(super) fn merge_first<V>(known: &mut FastMap<i64, V>, new: FastMap<i64, V>) {
    if known.is_empty() {
        *known = new;
        return;
    }
    for (k, v) in new {
        known.entry(k).or_insert(v);
    }
}

impl Folder {
    /// The Swedish region of a location id.
    pub(super) fn place(&self, location: Option<i64>) -> Option<&Place> {
        location.and_then(|l| self.locations.get(&l))
    }

    /// The provider code of a care site and the region of its location.
    pub(super) fn site(&self, care_site: Option<i64>) -> (Option<String>, Option<String>) {
        let Some(site) = care_site.and_then(|c| self.care_sites.get(&c)) else {
            return (None, None);
        };
        (
            site.provider.as_deref().map(str::to_owned),
            self.place(site.location).map(|p| p.region.to_string()),
        )
    }
}

/// The reference data of every CDM folder of a load.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub(super) folders: FastMap<PathBuf, Folder>,
}

impl Directory {
    /// Adds the export of a table in `folder`.
    pub(crate) fn add(&mut self, folder: PathBuf, export: Export) {
        let f = self.folders.entry(folder).or_default();
        match export {
            Export::Source(s) => {
                f.scope.get_or_insert(s);
            }
            Export::Concepts(c) => match &mut f.concepts {
                Some(known) => {
                    for (k, v) in c {
                        known.entry(k).or_insert(v);
                    }
                }
                None => f.concepts = Some(c),
            },
            Export::Persons(p, places) => {
                match &mut f.persons {
                    Some(known) => {
                        for (k, v) in p {
                            known.entry(k).or_insert(v);
                        }
                    }
                    None => f.persons = Some(p),
                }
                merge_first(&mut f.places, places);
            }
            Export::Locations(l) => merge_first(&mut f.locations, l),
            Export::CareSites(c) => merge_first(&mut f.care_sites, c),
            Export::Visits(v) => merge_first(&mut f.visits, v),
        }
    }

    pub(super) fn folder(&self, key: &Path) -> Option<&Folder> {
        self.folders.get(key)
    }
}

/// The pseudonym scope of a folder without a `cdm_source` table.
pub(super) fn folder_scope(key: &Path) -> String {
    let name = key
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    format!("omop-folder:{name}")
}

/// The scope of a data holder named by its `cdm_source` row.
pub(super) fn source_scope(holder: &str, name: &str) -> String {
    format!(
        "omop:{}/{}",
        holder.trim().to_lowercase(),
        name.trim().to_lowercase()
    )
}
