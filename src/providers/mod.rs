//! Providers: one module per provider — refresh live state, execute plan actions, run
//! read-only operations.
