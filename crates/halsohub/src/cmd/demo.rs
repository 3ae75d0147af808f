//! `halsohub demo`: the whole path on a synthetic population, on embedded
//! defaults — hub key, synthetic register files, ingest into a store, the
//! store's summary, one demo account per role in the state database, and
//! then the HTTP API over the store (unless `--no-serve`), with a working
//! `curl` example.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use halsohub_app::synth::SynthConfig;

use crate::cmd::db::DatabaseArgs;
use crate::cmd::{demo_accounts, serve};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Persons in the synthetic population.
    #[arg(long, default_value_t = 100_000)]
    pub patients: u64,
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Remove the demo store first and load it again from scratch.
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Stop after loading and creating the accounts; do not serve the API.
    #[arg(long)]
    pub no_serve: bool,
    /// Address the API listens on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
}

/// A small feasibility query for the printed example: patients with type 2
/// diabetes (ICD-10 E11 and below).
const EXAMPLE_QUERY: &str = r#"{"version":1,"criteria":[{"include":{"event":{"domain":"diagnosis","codes":[{"system":"icd10se","codes":["E11"],"descendants":true}]}}}],"output":{"type":"count"}}"#;

/// The `curl` command that asks the demo API for a feasibility count.
pub fn curl_example(listen: SocketAddr, token: &str) -> String {
    format!(
        "curl -s -X POST http://{listen}/api/v1/feasibility \\\n  -H 'Authorization: Bearer {token}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{EXAMPLE_QUERY}'"
    )
}

pub fn run(args: DemoArgs, home: &Path) -> Result<()> {
    let demo = home.join("demo");
    std::fs::create_dir_all(&demo)
        .with_context(|| format!("creating demo directory {}", demo.display()))?;

    // 1. The hub key, kept in the home, apart from the store.
    let key_path = crate::home::default_key(home);
    let key = halsohub_app::keys::ensure(&key_path)?;
    if key.created {
        println!(
            "1. hub key: created {} (fingerprint {})",
            key_path.display(),
            key.fingerprint
        );
    } else {
        println!("1. hub key: {} (existing)", key_path.display());
    }
    // The audit log's checkpoint signing key, beside it.
    let audit_key = crate::cmd::keys::default_audit_key(home);
    if !audit_key.exists() {
        let public = halsohub_app::audit::create_key(&audit_key, "halsohub-demo/audit", false)?;
        println!(
            "   audit signing key: created {} (public key {public})",
            audit_key.display()
        );
    }

    // 2. Synthetic register files, generated once per size and seed.
    let config = SynthConfig {
        patients: args.patients,
        seed: args.seed,
        ..SynthConfig::default()
    };
    let data = demo.join(format!("synth-{}-seed{}", args.patients, args.seed));
    let summary = if let Some(summary) = halsohub_app::synth::existing(&data)? {
        println!("2. synthetic data: {} (existing)", data.display());
        summary
    } else {
        let summary = crate::cmd::synth::generate(&config, &data)?;
        print!("2. ");
        crate::cmd::synth::print_summary(&summary, &data);
        summary
    };

    // 3. Ingest: validate, pseudonymise, link, load as one snapshot.
    let store = demo.join("store");
    if args.fresh && store.exists() {
        std::fs::remove_dir_all(&store).with_context(|| format!("removing {}", store.display()))?;
    }
    let started = std::time::Instant::now();
    let report = crate::cmd::ingest::load(&halsohub_app::load::LoadJob {
        store: store.clone(),
        key: key_path.clone(),
        paths: vec![data.clone()],
        reference: summary.extract_date,
        format: None,
    })?;
    if report.committed() {
        println!(
            "3. ingest into {} in {:.1} s:",
            store.display(),
            started.elapsed().as_secs_f64()
        );
        print!("{report}");
    } else {
        println!(
            "3. ingest: every file is already in {} (nothing new to load)",
            store.display()
        );
    }

    // 4. What the store holds now.
    println!("4. store:");
    print!("{}", halsohub_app::stores::info(&store)?);

    // 5. Demo accounts in the state database.
    print!("5. ");
    let runtime = crate::runtime()?;
    let logins = runtime.block_on(demo_accounts::demo_users(&args.db, home))?;
    drop(runtime);

    // 6. A feasibility count, protected, through the same path as the API.
    let query = demo.join("example-query.json");
    std::fs::write(&query, STRATA_QUERY).with_context(|| format!("writing {}", query.display()))?;
    println!();
    println!("6. feasibility count ({}):", query.display());
    println!("   patients with type 2 diabetes (E11) who had an HbA1c of 53 mmol/mol or more");
    println!("   within a year after the first diagnosis, by region of residence on 2024-01-01");
    crate::cmd::count::run(
        crate::cmd::count::CountArgs {
            store: store.clone(),
            key: crate::cmd::keys::KeyArg {
                key: Some(key_path.clone()),
            },
            exact: false,
            json: false,
            snapshot: None,
            query: query.clone(),
            db: args.db.clone(),
            lists: crate::cmd::lists::CodeListArgs::default(),
        },
        home,
    )?;
    let runtime = crate::runtime()?;

    // The dataset catalogue: a description of every synthetic source,
    // approved for the demo (docs/catalogue.md).
    let catalogue_dir = demo.join("catalogue");
    let catalogue_config = demo.join("catalogue.yaml");
    let published = halsohub_app::catalogue::write_demo(
        &catalogue_dir,
        &catalogue_config,
        &format!("http://{}", args.listen),
        "demo",
        chrono::Utc::now(),
    )?;
    println!();
    println!(
        "Catalogue: {published} dataset descriptions in {} (approved for the demo), configuration {}",
        catalogue_dir.display(),
        catalogue_config.display()
    );

    println!();
    println!(
        "Next: halsohub count --store {} {}",
        store.display(),
        query.display()
    );
    println!(
        "      halsohub store export --store {} --format parquet --out OUT",
        store.display()
    );
    println!(
        "      halsohub catalogue export --store {} --dir {} --config {}",
        store.display(),
        catalogue_dir.display(),
        catalogue_config.display()
    );
    if args.no_serve {
        println!(
            "      halsohub serve --store {} --catalogue-dir {} --catalogue-config {}   (API on http://{}/api/v1/)",
            store.display(),
            catalogue_dir.display(),
            catalogue_config.display(),
            args.listen
        );
        return Ok(());
    }

    // 7. The API over the store, until Ctrl-C.
    let applicant = logins
        .iter()
        .find(|l| l.role == halsohub_app::accounts::Role::Applicant)
        .context("no demo applicant was created")?;
    println!();
    println!(
        "7. serving the API on http://{}/api/v1/ (Ctrl-C stops). Ask for a feasibility count as {}:",
        args.listen, applicant.username
    );
    println!();
    println!("{}", curl_example(args.listen, &applicant.token));
    println!();
    println!(
        "   Documentation: docs/api.md; OpenAPI: http://{}/api/v1/openapi.json",
        args.listen
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    println!(
        "   The dataset catalogue: http://{}/api/v1/catalogue (JSON; Accept: text/turtle for HealthDCAT-AP)",
        args.listen
    );
    let mut args = serve::ServeArgs::local(args.listen, args.db.clone(), store);
    args.catalogue_dir = Some(catalogue_dir);
    args.catalogue_config = Some(catalogue_config);
    runtime.block_on(serve::run(args, home))
}

/// The demo's example query for `halsohub count` (docs/query-language.md
/// explains every part).
const STRATA_QUERY: &str = r#"{
  "version": 1,
  "index": {"event": {"domain": "diagnosis",
    "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]},
    "occurrence": "first"},
  "criteria": [{"label": "HbA1c >= 53 mmol/mol within 365 days after the first E11 diagnosis",
    "include": {"event": {"domain": "lab_result",
      "codes": [{"list": "hba1c"}],
      "value": {"gte": 53, "unit": "mmol/mol"},
      "within": {"days": [0, 365]}}}}],
  "output": {"type": "strata", "by": ["region"], "at": "2024-01-01"}
}
"#;
