#![doc = include_str!("../docs/kinds.md")]
