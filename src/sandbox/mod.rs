//! The sandbox: a local emulator of the provider APIs `sophia` uses.
