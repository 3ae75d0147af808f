//! Progress bars for long work, drawn only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `total` units, labelled `what`; hidden when not on a terminal.
pub fn bar(total: u64, what: &str, unit: Unit) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = match unit {
        Unit::Bytes => {
            "{msg:>10} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})"
        }
        Unit::Items => {
            "{msg:>10} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} (eta {eta})"
        }
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style);
    }
    pb.set_message(what.to_string());
    pb
}

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Bytes,
    Items,
}

/// A bar that library progress callbacks drive: the length once the work
/// is known, then steps (the export's persons, the load's bytes).
pub struct Bar(pub ProgressBar);

impl Bar {
    fn set_total(&self, total: u64) {
        self.0.set_length(total);
    }
    fn step(&self, done: u64) {
        self.0.inc(done);
    }
}

impl halsohub_app::export::ExportProgress for Bar {
    fn start(&self, persons: u64) {
        self.set_total(persons);
    }
    fn advance(&self, persons: u64) {
        self.step(persons);
    }
}

impl halsohub_app::load::LoadProgress for Bar {
    fn start(&self, total_bytes: u64) {
        self.set_total(total_bytes);
    }
    fn advance(&self, bytes: u64) {
        self.step(bytes);
    }
}
