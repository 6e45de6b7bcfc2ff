//! Per-binding retry delays after failed cycles, with the controllers' shared backoff: doubling
//! from a short first wait up to a ceiling, forgotten once the binding schedules or settles.

pub use karmada_runtime::backoff::Backoff;
