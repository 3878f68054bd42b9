//! The conformance page (`docs/conformance.md`) and the tests it names stay
//! in step: every table of the page has rows, every row a level, an owner
//! and at least one test, and every test it names, `path::function`, is a
//! test function in that file.

use std::path::Path;

/// The page's groups, by the start of their headings.
const GROUPS: [&str; 5] = ["RFC 9457", "RFC 9209", "RFC 9110", "RFC 9113", "gRPC"];

const LEVELS: [&str; 5] = ["MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"];

const OWNERS: [&str; 2] = ["layer", "example gateway"];

/// One row of a table: its group's heading and its cells.
struct Row<'a> {
    group: &'a str,
    cells: Vec<&'a str>,
}

/// The body rows of the page's tables, under their `## ` headings.
fn rows(page: &str) -> Vec<Row<'_>> {
    let mut group = "";
    let mut rows = Vec::new();
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            group = heading;
        } else if let Some(inner) = line.strip_prefix('|') {
            let cells: Vec<&str> = inner.trim_end_matches('|').split(" | ").collect();
            let header = cells[0].trim() == "requirement" || cells[0].starts_with("---");
            if !header {
                rows.push(Row { group, cells });
            }
        }
    }
    rows
}

/// The tests a cell names: each `` `path::…::function` `` in it.
fn tests_named(cell: &str) -> Vec<(&str, &str)> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| {
            let (path, rest) = code.split_once(".rs::")?;
            let name = rest.rsplit("::").next()?;
            Some((&code[..path.len() + 3], name))
        })
        .collect()
}

/// Whether `source` has a test function `name`: `fn name(` with a test
/// attribute (`#[test]`, `#[tokio::test]`) in the lines just above it.
fn has_test(source: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().collect();
    let signature = format!("fn {name}(");
    lines.iter().enumerate().any(|(i, line)| {
        line.contains(&signature)
            && lines[i.saturating_sub(4)..i]
                .iter()
                .any(|above| above.trim_start().starts_with("#[") && above.contains("test"))
    })
}

#[test]
fn every_test_the_conformance_page_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/conformance.md")).unwrap();
    let rows = rows(&page);
    let mut missing = Vec::new();
    for row in &rows {
        assert_eq!(row.cells.len(), 5, "a row of five cells: {:?}", row.cells);
        let (level, owner) = (row.cells[1].trim(), row.cells[2].trim());
        assert!(LEVELS.contains(&level), "level {level:?}: {:?}", row.cells);
        assert!(OWNERS.contains(&owner), "whose {owner:?}: {:?}", row.cells);
        let tests = tests_named(row.cells[4]);
        assert!(!tests.is_empty(), "a row without a test: {:?}", row.cells);
        for (path, name) in tests {
            let found = std::fs::read_to_string(root.join(path))
                .is_ok_and(|source| has_test(&source, name));
            if !found {
                missing.push(format!("{path}::{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "tests the page names, not found: {missing:#?}"
    );
    for group in GROUPS {
        assert!(
            rows.iter().any(|row| row.group.starts_with(group)),
            "no row under {group}"
        );
    }
}
