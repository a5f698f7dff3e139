//! The commands shown in README.md and docs/*.md run, and the output lines they quote are what
//! balans prints (issue 19 item 7: claims in the documentation cannot go stale).
//!
//! Every ```sh block's `balans …` commands (continuation lines joined, trailing `# comments`
//! dropped) run in order in one temporary folder per document, through `sh` so that `> file`
//! redirections work, with `balans` on the PATH and the fixtures of `tests/docs_fixtures/` (the
//! example files the documents name: `export.csv`, `studies.csv`, …) copied in. Each must exit 0
//! and use the current flag grammar (no deprecated spelling, docs/CLI.md).
//! A ```console block holds `$ balans …` lines, each followed by lines of its output: every quoted
//! line must appear in the command's stdout (compared with surrounding spaces trimmed).
//! Commands that need something a test machine lacks (an environment variable such as
//! `$SLURM_ARRAY_TASK_ID`), and the commands after them in the same block, are the only ones not
//! run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A command of a document and, for a console block, the output lines it quotes.
struct Example {
    block: usize,
    line: usize,
    command: String,
    quoted: Vec<String>,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The command without a trailing `# comment` (a `#` outside quotes, after a space).
fn strip_comment(cmd: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let bytes = cmd.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'#' if !single && !double && (i == 0 || bytes[i - 1] == b' ') => {
                return cmd[..i].trim_end()
            }
            _ => {}
        }
    }
    cmd.trim_end()
}

/// The examples of one Markdown text, in order.
fn examples(text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut fence: Option<&str> = None;
    let mut pending = String::new();
    let mut pending_line = 0;
    let mut block = 0;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("```") {
            block += 1;
            fence = match fence {
                None => Some(if rest.starts_with("sh") {
                    "sh"
                } else if rest.starts_with("console") {
                    "console"
                } else {
                    "other"
                }),
                Some(_) => None,
            };
            continue;
        }
        match fence {
            Some("sh") => {
                if pending.is_empty() {
                    pending_line = i + 1;
                }
                let part = strip_comment(line);
                if let Some(head) = part.strip_suffix('\\') {
                    pending.push_str(head);
                    pending.push(' ');
                    continue;
                }
                pending.push_str(part);
                let cmd = std::mem::take(&mut pending);
                let cmd = cmd.trim();
                if cmd.starts_with("balans ") {
                    out.push(Example {
                        block,
                        line: pending_line,
                        command: cmd.to_string(),
                        quoted: Vec::new(),
                    });
                }
            }
            Some("console") => {
                if let Some(cmd) = line.strip_prefix("$ ") {
                    out.push(Example {
                        block,
                        line: i + 1,
                        command: cmd.trim().to_string(),
                        quoted: Vec::new(),
                    });
                } else if let Some(last) = out.last_mut() {
                    if !line.trim().is_empty() {
                        last.quoted.push(line.trim().to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Runs the examples of one document; returns the failures.
fn run_document(doc: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(doc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(repo().join("tests/docs_fixtures")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_balans"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    let mut skipped_block = None;
    for ex in examples(&text) {
        // A command that needs an environment variable is not run, nor the rest of its block
        // (which depends on it, e.g. the merge after a Slurm array).
        if ex.command.contains('$') {
            skipped_block = Some(ex.block);
        }
        if skipped_block == Some(ex.block) {
            continue;
        }
        let o = Command::new("sh")
            .arg("-c")
            .arg(&ex.command)
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        let at = format!("{}:{}: {}", doc.display(), ex.line, ex.command);
        if !o.status.success() {
            failures.push(format!(
                "{at}\n    exit {:?}: {}",
                o.status.code(),
                common::stderr(&o).lines().next().unwrap_or("")
            ));
            continue;
        }
        let err = common::stderr(&o);
        if err.contains("deprecated spelling") {
            failures.push(format!(
                "{at}\n    uses a deprecated spelling: {}",
                err.lines().find(|l| l.contains("deprecated")).unwrap_or("")
            ));
        }
        let stdout = common::stdout(&o);
        let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
        let page = html_text(&stdout);
        for q in &ex.quoted {
            if !lines.contains(&q.as_str()) && !page.contains(q.as_str()) {
                failures.push(format!("{at}\n    quoted line not in the output: {q}"));
            }
        }
    }
    failures
}

/// The text of an HTML page (tags removed, the entities balans writes decoded), so that a
/// document can quote a demonstration's sentence; empty for output that is not HTML.
fn html_text(out: &str) -> String {
    if !out.starts_with("<!DOCTYPE") {
        return String::new();
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in out.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[test]
fn comments_and_continuations_are_parsed() {
    let ex = examples("```sh\nbalans a --x '#1' # note\nbalans b \\\n  --y 2   # more\ncargo test\n```\n```console\n$ balans c\nout 1\n\nout 2\n```\n");
    let cmds: Vec<&str> = ex.iter().map(|e| e.command.as_str()).collect();
    assert_eq!(cmds, ["balans a --x '#1'", "balans b    --y 2", "balans c"]);
    assert_eq!(ex[2].quoted, ["out 1", "out 2"]);
}

#[test]
fn readme_examples_run_and_quote_their_output() {
    let failures = run_document(&repo().join("README.md"));
    assert!(
        failures.is_empty(),
        "README.md examples fail:\n{}",
        failures.join("\n")
    );
}

#[test]
fn docs_examples_run_and_quote_their_output() {
    let mut failures = Vec::new();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for doc in docs {
        failures.extend(run_document(&doc));
    }
    assert!(
        failures.is_empty(),
        "docs examples fail:\n{}",
        failures.join("\n")
    );
}
