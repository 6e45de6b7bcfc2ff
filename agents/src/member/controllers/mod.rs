//! The member's controllers, one module per kind they reconcile.
