//! `--code-lists FILE`: the named code lists a query may use, for every
//! command that evaluates queries (`count`, `serve`, `export`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use halsohub_cohort::{CodeLists, Engine};

/// Code list files beside the built-in lists.
#[derive(Debug, Clone, Default, Args)]
pub struct CodeListArgs {
    /// A code list file (JSON, or YAML by `.yaml`/`.yml`) adding named lists
    /// for `{"list": "name"}` beside the built-in ones; a list of the same
    /// name replaces the built-in one. Repeat for several files.
    #[arg(long = "code-lists", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// The built-in lists, then each file's, over `engine`'s code systems (a
/// query or list may name any system the snapshot holds codes of).
pub fn load(args: &CodeListArgs, engine: &Engine) -> Result<CodeLists> {
    let mut lists = CodeLists::builtin();
    lists.add_systems(engine.systems());
    for file in &args.files {
        load_file(&mut lists, file)?;
    }
    Ok(lists)
}

fn load_file(lists: &mut CodeLists, file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading code list file {}", file.display()))?;
    let yaml = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let loaded = if yaml {
        lists.load_yaml(&text)
    } else {
        lists.load_json(&text)
    }
    .with_context(|| format!("code list file {}", file.display()))?;
    tracing::info!(
        file = %file.display(),
        lists = loaded.names.len(),
        replaced = ?loaded.replaced,
        "code lists loaded"
    );
    Ok(())
}
