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
