#![doc = include_str!("../docs/conformance.md")]
