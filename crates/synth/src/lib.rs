//! Deterministic synthetic Swedish population and register source files.
//!
//! [`generate`] writes one file set per data holder in the register formats
//! of `docs/formats.md` ("Swedish register extracts"): the population
//! register and its change file, the national patient register (inpatient
//! and specialised outpatient), the prescribed drug register, the
//! cause-of-death register, and per region primary care, hospital-administered
//! drugs and lab results — each with its real quirks (Windows-1252 + CRLF for
//! national files, UTF-8 with or without BOM for regions, 10- or 12-digit
//! identity numbers, ICD-10 written `E11.9`/`E119`/`e11.9`, decimal commas,
//! lab comparators, unit spellings, unknown death days as `00`) and a
//! configurable share of deliberately defective rows. `OUT/manifest.json`
//! ([`Summary`]) holds the ground truth: rows and defects per file and kind,
//! population counts, disease prevalences, causes of death. It holds no
//! identity numbers.
//!
//! The population is realistic in outline: the 2012 Swedish age pyramid,
//! births, immigration and emigration over the period, the 21 regions
//! weighted by population with real kommun codes and moves between them,
//! samordningsnummer replaced by personnummer, and disease trajectories
//! (type 2 diabetes, hypertension, heart failure, atrial fibrillation,
//! stroke, COPD, asthma, chronic kidney disease, depression, rheumatoid
//! arthritis, breast, prostate and colorectal cancer) with the visits,
//! drugs, lab values, procedures and deaths that follow from them.
//!
//! Output is byte-identical for a given [`Config`] whatever the number of
//! threads: persons are generated in fixed-size chunks, each with its own
//! ChaCha8 stream derived from (seed, chunk index); chunks are generated in
//! parallel (rayon) and written in chunk order, a window at a time, so
//! memory stays bounded. Identity numbers are made unique by one cheap
//! sequential pass per window.

mod care;
mod geo;
mod ids;
mod life;
mod manifest;
mod out;
mod tables;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use manifest::{
    ConfigSummary, DefectCounts, DefectKind, FileSummary, PopulationSummary, Summary,
};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Number of persons (everyone resident at some time in the period).
    pub patients: u64,
    /// Seed; the same seed and configuration give byte-identical files.
    pub seed: u64,
    /// First day of the period.
    pub start: NaiveDate,
    /// Last day of the period; also the extract date.
    pub end: NaiveDate,
    /// Share of rows made defective, in `0.0..=1.0`.
    pub defect_rate: f64,
    /// Persons per chunk (a unit of parallel work; changing it changes the
    /// output).
    pub chunk_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            patients: 10_000,
            seed: 1,
            start: NaiveDate::from_ymd_opt(2012, 1, 1).unwrap_or_default(),
            end: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
            defect_rate: 0.002,
            chunk_size: 1024,
        }
    }
}

impl Config {
    /// Checks the configuration; [`generate`] calls this first.
    pub fn validate(&self) -> Result<(), SynthError> {
        if !(0.0..=1.0).contains(&self.defect_rate) {
            return Err(SynthError::InvalidConfig(format!(
                "defect rate must be between 0 and 1, got {}",
                self.defect_rate
            )));
        }
        if self.start > self.end {
            return Err(SynthError::InvalidConfig(format!(
                "period start {} is after its end {}",
                self.start, self.end
            )));
        }
        let lo = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap_or_default();
        let hi = NaiveDate::from_ymd_opt(2099, 12, 31).unwrap_or_default();
        if self.start < lo || self.end > hi {
            return Err(SynthError::InvalidConfig(format!(
                "period must lie within {lo}..={hi}, got {}..={}",
                self.start, self.end
            )));
        }
        if self.chunk_size == 0 || self.chunk_size > 1_000_000 {
            return Err(SynthError::InvalidConfig(format!(
                "chunk size must be between 1 and 1000000, got {}",
                self.chunk_size
            )));
        }
        Ok(())
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The configuration is not usable.
    #[error("invalid synth configuration: {0}")]
    InvalidConfig(String),
    /// The output directory already holds a generated set.
    #[error(
        "output directory {path} already holds generated data ({found}); choose an empty or new directory"
    )]
    OutputExists {
        /// The output directory.
        path: PathBuf,
        /// The entry found there.
        found: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Too many persons share a birth date for the serial-number space.
    #[error(
        "no free identity number left for birth date {birth}: the population is too large for the personnummer space"
    )]
    IdentitySpaceExhausted {
        /// The birth date that ran out of serials.
        birth: NaiveDate,
    },
    /// The identity crate refused to build a number.
    #[error("cannot build an identity number for birth date {birth}")]
    Identity {
        /// The birth date.
        birth: NaiveDate,
    },
    /// The manifest could not be serialised.
    #[error("cannot serialise the manifest: {0}")]
    Manifest(#[from] serde_json::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Chunks generated in parallel between two writes.
const WINDOW: u64 = 16;
/// Name of the staging directory inside the output directory.
const STAGING: &str = ".synth-partial";

/// The RNG of chunk `chunk`: a ChaCha8 stream derived from the seed.
fn chunk_rng(seed: u64, chunk: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(chunk);
    rng
}

struct SkeletonChunk {
    rng: ChaCha8Rng,
    persons: Vec<life::Skeleton>,
    serials: Vec<(u16, Option<u16>)>,
}

struct Shared<'a> {
    config: &'a Config,
    period: life::Period,
    geo: geo::Geography,
}

fn gen_chunk(sh: &Shared<'_>, mut chunk: SkeletonChunk) -> Result<out::ChunkOut, SynthError> {
    let mut out = out::ChunkOut::new();
    let mut ev = care::Events::default();
    let mut seen = Vec::new();
    let rng = &mut chunk.rng;
    for (sk, &(serial, coord_serial)) in chunk.persons.iter().zip(chunk.serials.iter()) {
        let life = life::simulate(rng, sk, &sh.period, &sh.geo);
        let ids = ids::IdForms::new(sk.birth, serial, false, sh.config.end)?;
        let change_offset = rng.random_range(30..400);
        let old = match (coord_serial, sk.entry) {
            (Some(cs), life::Entry::Immigrated(imm)) if life.obs_end - imm > 2 => {
                let change = (imm + change_offset).min(imm + (life.obs_end - imm) / 2);
                Some((
                    ids::IdForms::new(sk.birth, cs, true, sh.config.end)?,
                    change,
                ))
            }
            _ => None,
        };
        care::generate(rng, &life, &mut ev);
        let mut w = out::PersonWriter {
            out: &mut out,
            rng,
            defect_rate: sh.config.defect_rate,
            geo: &sh.geo,
            seen: &mut seen,
        };
        w.person(&life, &ids, old.as_ref().map(|(f, d)| (f, *d)), &ev);
    }
    Ok(out)
}

struct Writers {
    files: Vec<(PathBuf, BufWriter<File>)>,
}

impl Writers {
    fn create(staging: &Path, specs: &[out::FileSpec]) -> Result<Self, SynthError> {
        let mut files = Vec::with_capacity(specs.len());
        for s in specs {
            let path = staging.join(&s.path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            let f = File::create(&path).map_err(io_err(&path))?;
            let mut w = BufWriter::with_capacity(256 * 1024, f);
            if s.bom {
                w.write_all(b"\xEF\xBB\xBF").map_err(io_err(&path))?;
            }
            w.write_all(s.header.as_bytes()).map_err(io_err(&path))?;
            w.write_all(if s.national { b"\r\n" } else { b"\n" })
                .map_err(io_err(&path))?;
            files.push((path, w));
        }
        Ok(Writers { files })
    }

    fn write(
        &mut self,
        chunks: Vec<out::ChunkOut>,
        stats: &mut out::Stats,
    ) -> Result<(), SynthError> {
        for c in chunks {
            for ((path, w), buf) in self.files.iter_mut().zip(c.bufs.iter()) {
                w.write_all(buf).map_err(io_err(path))?;
            }
            stats.merge(&c.stats);
        }
        Ok(())
    }

    fn finish(self) -> Result<(), SynthError> {
        for (path, w) in self.files {
            // Flushed, not fsynced: the manifest written last marks a
            // complete set, and fsyncing gigabytes costs more than it buys.
            w.into_inner().map_err(|e| SynthError::Io {
                path: path.clone(),
                source: e.into_error(),
            })?;
        }
        Ok(())
    }
}

/// The top-level entries a set consists of.
fn top_entries(specs: &[out::FileSpec]) -> Vec<String> {
    let mut v: Vec<String> = specs
        .iter()
        .filter_map(|s| s.path.split('/').next().map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Generates a synthetic population into `out` (created if missing; must
/// not already hold a generated set) and returns its [`Summary`], which is
/// also written to `out/manifest.json`.
///
/// Files are written to a staging directory inside `out` and moved into
/// place when complete; `manifest.json` is written last, so its presence
/// marks a complete set. `progress` is called (on the calling thread) with
/// the number of persons written so far.
pub fn generate(
    config: &Config,
    out: &Path,
    progress: &dyn Fn(u64),
) -> Result<Summary, SynthError> {
    config.validate()?;
    let specs = out::file_specs();
    fs::create_dir_all(out).map_err(io_err(out))?;
    let mut owned = top_entries(&specs);
    owned.push("manifest.json".to_string());
    for e in &owned {
        if out.join(e).exists() {
            return Err(SynthError::OutputExists {
                path: out.to_path_buf(),
                found: e.clone(),
            });
        }
    }
    let staging = out.join(STAGING);
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    let result = generate_into(config, &staging, &specs, progress);
    let stats = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    for e in top_entries(&specs) {
        let from = staging.join(&e);
        let to = out.join(&e);
        fs::rename(&from, &to).map_err(io_err(&to))?;
    }
    fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    let summary = summarise(config, &specs, &stats);
    let json = serde_json::to_vec_pretty(&summary)?;
    let tmp = out.join("manifest.json.tmp");
    fs::write(&tmp, &json).map_err(io_err(&tmp))?;
    let manifest = out.join("manifest.json");
    fs::rename(&tmp, &manifest).map_err(io_err(&manifest))?;
    tracing::debug!(
        persons = stats.persons,
        rows = summary.rows_total,
        "synthetic set written"
    );
    Ok(summary)
}

fn generate_into(
    config: &Config,
    staging: &Path,
    specs: &[out::FileSpec],
    progress: &dyn Fn(u64),
) -> Result<out::Stats, SynthError> {
    let mut writers = Writers::create(staging, specs)?;
    let shared = Shared {
        config,
        period: life::Period::new(config.start, config.end),
        geo: geo::Geography::new(),
    };
    let chunk = u64::from(config.chunk_size);
    let n_chunks = config.patients.div_ceil(chunk);
    let mut space = ids::IdSpace::new();
    let mut stats = out::Stats::new();
    let mut pending: Vec<out::ChunkOut> = Vec::new();
    let mut pending_persons = 0u64;
    let mut written = 0u64;
    let mut w = 0u64;
    while w < n_chunks {
        let hi = (w + WINDOW).min(n_chunks);
        // Stage 1 (parallel): who the persons are.
        let mut skeletons: Vec<SkeletonChunk> = (w..hi)
            .into_par_iter()
            .map(|c| {
                let mut rng = chunk_rng(config.seed, c);
                let n = (config.patients - c * chunk).min(chunk);
                let persons = (0..n)
                    .map(|_| life::skeleton(&mut rng, &shared.period))
                    .collect();
                SkeletonChunk {
                    rng,
                    persons,
                    serials: Vec::new(),
                }
            })
            .collect();
        // Stage 2 (sequential, chunk order): unique identity numbers.
        let mut persons = 0u64;
        for sc in &mut skeletons {
            sc.serials.reserve(sc.persons.len());
            for p in &sc.persons {
                let s = space.claim(false, p.birth, p.male, p.pref)?;
                let cs = if p.coord {
                    Some(space.claim(true, p.birth, p.male, p.coord_pref)?)
                } else {
                    None
                };
                sc.serials.push((s, cs));
            }
            persons += sc.persons.len() as u64;
        }
        // Stage 3 (parallel) while the previous window is written.
        let to_write = std::mem::take(&mut pending);
        let (written_ok, generated) = rayon::join(
            || writers.write(to_write, &mut stats),
            || {
                skeletons
                    .into_par_iter()
                    .map(|sc| gen_chunk(&shared, sc))
                    .collect::<Result<Vec<_>, _>>()
            },
        );
        written_ok?;
        written += pending_persons;
        if pending_persons > 0 {
            progress(written);
        }
        pending = generated?;
        pending_persons = persons;
        w = hi;
    }
    writers.write(pending, &mut stats)?;
    written += pending_persons;
    progress(written);
    writers.finish()?;
    Ok(stats)
}

fn summarise(config: &Config, specs: &[out::FileSpec], st: &out::Stats) -> Summary {
    let mut files = BTreeMap::new();
    let mut total = DefectCounts::default();
    for (i, s) in specs.iter().enumerate() {
        let defects = st.defects.get(i).copied().unwrap_or_default();
        total.add(&defects);
        let region = s
            .path
            .strip_prefix("region_")
            .and_then(|r| r.split('/').next())
            .map(str::to_string);
        files.insert(
            s.path.clone(),
            FileSummary {
                format: s.format.to_string(),
                region,
                encoding: if s.national { "windows-1252" } else { "utf-8" }.to_string(),
                bom: s.bom,
                rows: st.rows.get(i).copied().unwrap_or(0),
                defects,
            },
        );
    }
    let diseases = out::disease_names()
        .iter()
        .zip(st.disease_persons.iter())
        .map(|(n, c)| (n.to_string(), *c))
        .collect();
    Summary {
        generator: format!("halsohub-synth {}", env!("CARGO_PKG_VERSION")),
        config: ConfigSummary {
            patients: config.patients,
            seed: config.seed,
            start: config.start,
            end: config.end,
            defect_rate: config.defect_rate,
            chunk_size: config.chunk_size,
        },
        extract_date: config.end,
        files,
        population: PopulationSummary {
            persons: st.persons,
            men: st.men,
            women: st.women,
            resident_at_start: st.resident_at_start,
            born_in_period: st.born_in_period,
            immigrated_in_period: st.immigrated_in_period,
            immigrated_before_period: st.immigrated_before_period,
            emigrated: st.emigrated,
            deaths: st.deaths,
            death_dates_unknown_day: st.deaths_unknown_day,
            death_dates_unknown_month: st.deaths_unknown_month,
            id_changes: st.id_changes,
            moves: st.moves,
            centenarians_at_extract: st.centenarians_at_extract,
        },
        diseases,
        causes_of_death: st.causes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        rows_total: st.rows.iter().sum(),
        defects_total: total,
    }
}
