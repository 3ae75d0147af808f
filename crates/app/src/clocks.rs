//! The statutory clocks of a case as the edges show them (`halsohub cases
//! show`): the access domain's rules, re-exported so the binary needs no
//! dependency on `halsohub-access`.

pub use halsohub_access::{ClockStatus, case_clocks};
