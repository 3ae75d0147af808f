//! Log output through the real binary: written to a file (not a terminal),
//! it is plain text without ANSI colour codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;

use common::Hub;

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    let hub = Hub::new();
    let log = hub.path("halsohub.log");
    let file = std::fs::File::create(&log).unwrap();
    let url = format!("sqlite://{}?mode=rwc", hub.path("state.db").display());
    let status = hub
        .cmd()
        .args(["-vv", "user", "list", "--database", &url])
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    // The run logged something at info level (opening the database) …
    assert!(
        text.contains("state database ready"),
        "expected log lines in the file, got:\n{text}"
    );
    // … and none of it is coloured.
    assert!(
        !text.contains('\u{1b}'),
        "the log file holds ANSI escape codes:\n{text:?}"
    );
}
