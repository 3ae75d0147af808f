//! Idempotency keys of the API: the hash of a request (method, path and
//! body) that a stored answer is kept under, so a repeated key with
//! another request is refused. The one definition is `state`'s; the
//! server names it here.

pub use halsohub_state::cases::request_hash;
