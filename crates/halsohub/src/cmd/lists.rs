//! `--code-lists FILE`: the named code lists a query may use, for every
//! command that evaluates queries (`count`, `serve`, `export`). They are
//! loaded by `halsohub_app::hub::code_lists`.

use std::path::PathBuf;

use clap::Args;

/// Code list files beside the built-in lists.
#[derive(Debug, Clone, Default, Args)]
pub struct CodeListArgs {
    /// A code list file (JSON, or YAML by `.yaml`/`.yml`) adding named lists
    /// for `{"list": "name"}` beside the built-in ones; a list of the same
    /// name replaces the built-in one. Repeat for several files.
    #[arg(long = "code-lists", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}
